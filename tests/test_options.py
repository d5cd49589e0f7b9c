"""Tests for scoring.options: one ScoreOptions built the same way from both scorer CLIs' flags, checked on creation."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest

from scoring.batch import build_parser as batch_parser
from scoring.distributed.cli import build_parser as dask_parser
from scoring.errors import ScoringError
from scoring.options import (
    DEFAULT_MAX_RECORD_BYTES,
    MAX_BATCH_ROWS,
    MAX_RECORD_BYTES,
    MAX_THREADS,
    NOT_FLAGS,
    ScoreOptions,
    _size_option,
    add_score_arguments,
    option_names,
    usable_cores,
)
from tests.expect import says

SHARED = ["--model", "m", "--runtime", "onnx", "--threshold", "0.3", "--batch-rows", "7", "--keep", "a, b",
          "--no-header", "--sep", ";", "--rename", "x=y", "--label-values", "--no-verify", "--threads", "2",
          "--input-format", "csv", "--output-format", "parquet", "--na-values", "NA,?", "--decimal", ","]


def test_both_clis_turn_the_same_flags_into_the_same_options() -> None:
    batch = ScoreOptions.from_args(batch_parser().parse_args(["in.csv", "out.parquet", *SHARED]))
    dask = ScoreOptions.from_args(dask_parser().parse_args(["in.csv", "out/", *SHARED]))
    assert batch == dask
    assert (batch.model, batch.runtime, batch.threshold, batch.batch_rows, batch.keep, batch.header, batch.sep) == (
        "m", "onnx", 0.3, 7, ["a", "b"], False, ";")
    assert (batch.rename, batch.label_values, batch.verify, batch.threads) == ({"x": "y"}, True, False, 2)
    assert (batch.input_format, batch.output_format, batch.na_values, batch.decimal) == ("csv", "parquet",
                                                                                        ("NA", "?"), ",")


def test_defaults_are_the_librarys_on_both_clis() -> None:
    library = ScoreOptions()
    assert ScoreOptions.from_args(batch_parser().parse_args(["in.csv", "out.csv"])) == library
    assert ScoreOptions.from_args(dask_parser().parse_args(["in.csv", "out/"])) == library


def test_rejects_come_from_the_batch_cli_only() -> None:
    args = batch_parser().parse_args(["in.csv", "out.csv", "--on-error", "skip", "--rejects", "r.csv"])
    assert ScoreOptions.from_args(args).rejects == "r.csv"
    assert ScoreOptions.from_args(dask_parser().parse_args(["in.csv", "out/"])).rejects is None


def test_every_option_but_the_derived_ones_is_a_flag_of_both_clis() -> None:
    for parser in (batch_parser(), dask_parser()):
        flags = {s for action in parser._actions for s in action.option_strings}
        missing = [name for name in option_names()
                   if name not in NOT_FLAGS and f"--{name.replace('_', '-')}" not in flags]
        assert missing == [], parser.prog


def test_a_rename_flag_wins_over_the_rename_file(tmp_path: Path) -> None:
    renames = tmp_path / "renames.json"
    renames.write_text(json.dumps({"x": "from_file", "z": "w"}))
    args = batch_parser().parse_args(["in.csv", "out.csv", "--rename-file", str(renames), "--rename", "x=y"])
    assert ScoreOptions.from_args(args).rename == {"x": "y", "z": "w"}


@pytest.mark.parametrize("changes", [{"threshold": 1.5}, {"batch_rows": 0}, {"threads": 0}, {"on_error": "ignore"},
                                     {"engine": "fast"}, {"output_format": "xlsx"}, {"decimal": ";"},
                                     {"keep": ["id"], "keep_all": True}])
def test_a_copy_is_checked_again(changes: dict) -> None:
    with pytest.raises(ScoringError):
        ScoreOptions().with_(**changes)


def flags_parser() -> argparse.ArgumentParser:
    """A parser with the shared flags alone, as any scorer CLI adds them."""
    parser = argparse.ArgumentParser(exit_on_error=False)
    add_score_arguments(parser)
    return parser


@pytest.mark.parametrize(("flag", "value"), [("--runtime", "torch"), ("--on-error", "ignore"),
                                             ("--input-format", "xlsx"), ("--output-format", "json"),
                                             ("--sep", ":"), ("--decimal", ";"), ("--max-record-bytes", "lots"),
                                             ("--batch-rows", "many"), ("--threads", "2.5"), ("--threshold", "half")])
def test_a_flags_value_outside_what_it_takes_is_argparses_usage_error(flag: str, value: str, capsys) -> None:
    """Exit 2, the flag and the value named (in either CLI: they add the same flags)."""
    for build in (batch_parser, dask_parser):
        with pytest.raises(SystemExit) as caught:
            build().parse_args(["in.csv", "out.csv", flag, value])
        assert caught.value.code == 2
        says(capsys.readouterr().err.splitlines()[-1], flag, repr(value))


def test_flags_are_read_into_what_the_library_takes() -> None:
    args = flags_parser().parse_args(["--sep", "tab", "--decimal", ",", "--na-values", "none",
                                      "--max-record-bytes", "2MiB", "--keep", "a,,b ", "--threshold", "0"])
    options = ScoreOptions.from_args(args)
    assert (options.sep, options.decimal, options.na_values) == ("\t", ",", ())
    assert (options.max_record_bytes, options.keep, options.threshold) == (2 << 20, ["a", "b"], 0.0)
    assert ScoreOptions.from_args(flags_parser().parse_args(["--max-record-bytes", "1000"])).max_record_bytes == 1000


def test_left_out_flags_are_none_so_the_model_decides() -> None:
    args = flags_parser().parse_args([])
    assert (args.keep, args.na_values, args.decimal, args.sep, args.rename_file, args.runtime) == (None,) * 6
    assert (args.max_record_bytes, args.on_error, args.input_format) == (DEFAULT_MAX_RECORD_BYTES, "stop", "auto")


@pytest.mark.parametrize(("text", "size"), [("1000000", 1_000_000), ("64MiB", 64 << 20), ("64mib", 64 << 20),
                                            ("1.5GB", 1_500_000_000), (" 2 KiB ", 2048), ("3k", 3000), ("7b", 7),
                                            ("1gib", 1 << 30), ("5MB", 5_000_000)])
def test_sizes_are_bytes_with_decimal_and_binary_units_in_any_case(text: str, size: int) -> None:
    assert _size_option(text) == size


@pytest.mark.parametrize("text", ["", "MiB", "64 MiBs", "-1", "1e6", "64 Mi B", "1,000"])
def test_anything_else_is_not_a_size_and_is_shown(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as caught:
        _size_option(text)
    assert repr(text) in str(caught.value)


@pytest.mark.parametrize("value", [0.0, 1.0, 0.5])
def test_both_ends_of_0_1_are_thresholds(value: float) -> None:
    assert ScoreOptions(threshold=value).threshold == value


@pytest.mark.parametrize(("field", "flag", "most"), [("batch_rows", "--batch-rows", MAX_BATCH_ROWS),
                                                     ("threads", "--threads", MAX_THREADS),
                                                     ("max_record_bytes", "--max-record-bytes", MAX_RECORD_BYTES)])
def test_counts_are_from_1_to_their_limit_and_a_refusal_names_the_flag(field: str, flag: str, most: int) -> None:
    assert getattr(ScoreOptions(**{field: most}), field) == most
    assert getattr(ScoreOptions(**{field: 1}), field) == 1
    for bad, fact in ((most + 1, f"{most:,}"), (0, "positive"), (-3, "-3")):
        with pytest.raises(ScoringError) as caught:
            ScoreOptions(**{field: bad})
        says(str(caught.value), flag, fact)


@pytest.mark.parametrize(("changes", "facts"), [
    ({"threshold": -0.1}, ("--threshold", "-0.1")),
    ({"on_error": "ignore"}, ("--on-error", "'stop', 'skip'", "'ignore'")),
    ({"engine": "fast"}, ("engine", "'fast'")),
    ({"input_format": "xlsx"}, ("--input-format", "'xlsx'")),
    ({"decimal": ";"}, ("--decimal", "';'")),
    ({"rejects": "r.csv"}, ("--rejects", "--on-error skip")),
    ({"keep": ["id"], "keep_all": True}, ("--keep", "--keep-all")),
])
def test_a_refusal_names_the_option_and_what_it_got(changes: dict, facts: tuple) -> None:
    with pytest.raises(ScoringError) as caught:
        ScoreOptions(**changes)
    says(str(caught.value), *facts)


def test_usable_cores_follow_the_affinity_mask_or_the_cpu_count(monkeypatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {5})
    assert usable_cores() == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})
    assert usable_cores() == 3
    monkeypatch.delattr(os, "sched_getaffinity")  # not Linux
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert usable_cores() == 6
    monkeypatch.setattr(os, "cpu_count", lambda: None)  # cannot tell
    assert usable_cores() == 1


def test_a_cli_adds_the_options_it_sets_from_other_flags() -> None:
    options = ScoreOptions.from_args(flags_parser().parse_args([]), progress=True, engine="blocks")
    assert (options.progress, options.engine) == (True, "blocks")
