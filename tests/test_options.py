"""Tests for scoring.options: one ScoreOptions built the same way from both scorer CLIs' flags, checked on creation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scoring.batch import build_parser as batch_parser
from scoring.distributed.cli import build_parser as dask_parser
from scoring.errors import ScoringError
from scoring.options import NOT_FLAGS, ScoreOptions, option_names

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
