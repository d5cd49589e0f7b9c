"""Tests for ``python -m model.data``: the WDBC rows as a CSV the scorer can read."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from model.data import main
from model.wdbc import FEATURE_NAMES


def test_writes_wdbc_csv_with_header(tmp_path: Path, capsys) -> None:
    out = tmp_path / "sub" / "wdbc.csv"
    assert main([str(out)]) == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["id", "diagnosis", *FEATURE_NAMES] and len(frame) == 569


def test_bad_source_is_one_line(tmp_path: Path, capsys) -> None:
    assert main([str(tmp_path / "o.csv"), "--data", str(tmp_path / "missing.data")]) == 2
    assert capsys.readouterr().err.startswith("DataError: Data file not found")
