"""Tests for ``python -m model.data``: the WDBC rows as a CSV the scorer can read."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from model.data import main
from model.wdbc import FEATURE_NAMES


def test_writes_wdbc_csv_with_header(tmp_path: Path, capsys) -> None:
    out = tmp_path / "new" / "sub" / "wdbc.csv"  # missing directories are made
    assert main([str(out)]) == 0
    assert capsys.readouterr().out == f"wrote 569 rows to {out}\n"
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["id", "diagnosis", *FEATURE_NAMES] and len(frame) == 569


def test_bad_source_is_one_line(tmp_path: Path, capsys) -> None:
    assert main([str(tmp_path / "o.csv"), "--data", str(tmp_path / "missing.data")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"DataError: Data file not found: {tmp_path / 'missing.data'}") and err.count("\n") == 1
    assert not (tmp_path / "o.csv").exists()


def test_data_option_writes_that_table(tmp_path: Path, capsys) -> None:
    source = tmp_path / "in.csv"
    source.write_text("a,b\n1,x\n2,y\n")
    assert main([str(tmp_path / "out.csv"), "--data", str(source)]) == 0
    assert (tmp_path / "out.csv").read_text() == "a,b\n1,x\n2,y\n"
    assert capsys.readouterr().out == f"wrote 2 rows to {tmp_path / 'out.csv'}\n"


def test_help_says_what_it_writes(capsys) -> None:
    import pytest

    with pytest.raises(SystemExit) as done:
        main(["--help"])
    text = capsys.readouterr().out
    assert done.value.code == 0
    assert text.startswith("usage: python -m model.data") and "--data" in text and "output" in text
