"""Tests for scoring.distributed.storage: store options, filesystems per URL, and the missing-extra error."""

from __future__ import annotations

import importlib
import importlib.util
import sys

import pytest

from scoring.distributed.storage import (
    canonical,
    filesystem,
    is_local,
    parse_storage_options,
    single_put,
    storage_errors,
)
from scoring.errors import ScoringError


def test_storage_options_parse_json_values_strings_and_dotted_keys() -> None:
    options = parse_storage_options(["endpoint_url=http://127.0.0.1:9000", "anon=false", "default_block_size=5242880",
                                     "client_kwargs.region_name=eu-west-1", "key=12ab"])
    assert options == {"endpoint_url": "http://127.0.0.1:9000", "anon": False, "default_block_size": 5242880,
                       "client_kwargs": {"region_name": "eu-west-1"}, "key": "12ab"}
    assert parse_storage_options(None) == {}


@pytest.mark.parametrize("bad", ["endpoint_url", "=x", "a=1 a.b=2"])
def test_storage_option_without_key_value_is_refused(bad: str) -> None:
    pairs = bad.split(" ")
    with pytest.raises(ScoringError, match="--storage-option"):
        parse_storage_options(pairs)


def test_local_paths_become_absolute_and_urls_keep_their_protocol(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    fs, path = filesystem("data/in.csv")
    assert is_local(fs) and not single_put(fs)
    assert canonical(fs, path) == str(tmp_path / "data" / "in.csv")
    fs, path = filesystem(f"file://{tmp_path}/x.csv")
    assert canonical(fs, path) == str(tmp_path / "x.csv")


def test_s3_without_s3fs_names_the_extra(monkeypatch) -> None:
    registry = importlib.import_module("fsspec.registry")  # the module; fsspec.registry is also a mapping

    monkeypatch.delitem(registry._registry, "s3", raising=False)  # forget a class imported earlier
    monkeypatch.setitem(sys.modules, "s3fs", None)  # and make importing it fail, as when it is not installed
    with pytest.raises(ScoringError, match=r"^s3://bucket/in/a\.csv needs the s3fs package for s3:// URLs, which is "
                                           r"not installed: pip install 'wdbc-graph-export\[s3\]'"):
        filesystem("s3://bucket/in/a.csv")


def test_other_missing_packages_are_named() -> None:
    pytest.importorskip("fsspec")
    if "gcsfs" in sys.modules or _installed("gcsfs"):
        pytest.skip("gcsfs is installed here")
    with pytest.raises(ScoringError, match=r"needs the gcsfs package for gcs:// URLs, which is not installed: "
                                           r"pip install gcsfs\.$"):
        filesystem("gcs://bucket/a.csv")


def test_unknown_protocol_is_one_clear_error() -> None:
    with pytest.raises(ScoringError, match=r"Unknown protocol nosuch:// in nosuch://x/a\.csv; expected a local path"):
        filesystem("nosuch://x/a.csv")


def test_s3_is_a_single_put_store_and_its_errors_are_expected() -> None:
    pytest.importorskip("s3fs")
    fs, path = filesystem("s3://bucket/out", {"anon": True})
    assert single_put(fs) and not is_local(fs) and path == "bucket/out"
    assert canonical(fs, path) == "s3://bucket/out"
    from botocore.exceptions import NoCredentialsError

    assert issubclass(NoCredentialsError, storage_errors())


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None
