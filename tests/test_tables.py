"""Tests for model.tables: every format a user's table comes in reads to the same frame."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

import polars as pl
import pytest

from model.errors import DataError
from model.tables import line_of_row, read_table

FRAME = pl.DataFrame({"patient id": ["a1", "b2", "c3"], "Größe (cm)": [170.5, 180.25, 165.0],
                      "age": [30, 41, 52], "outcome": ["yes", "no", "yes"]})


@pytest.mark.parametrize("separator", [",", ";", "\t", "|"])
def test_separator_is_sniffed_from_the_header(tmp_path: Path, separator: str) -> None:
    path = tmp_path / "t.csv"
    FRAME.write_csv(path, separator=separator)
    table = read_table(path)
    assert table.separator == separator and table.kind == "csv"
    assert table.frame.equals(FRAME)


def test_explicit_separator_wins(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    FRAME.write_csv(path, separator=";")
    assert read_table(path, sep=",").frame.columns == ["patient id;Größe (cm);age;outcome"]
    with pytest.raises(DataError, match=r"--sep must be one of"):
        read_table(path, sep=":")


@pytest.mark.parametrize(("suffix", "pack"), [(".csv.gz", gzip.compress), (".csv.bz2", bz2.compress)])
def test_compressed_csv(tmp_path: Path, suffix: str, pack) -> None:
    path = tmp_path / f"t{suffix}"
    path.write_bytes(pack(FRAME.write_csv().encode()))
    assert read_table(path).frame.equals(FRAME)


def test_parquet_keeps_types(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    FRAME.with_columns(pl.col("outcome") == "yes").write_parquet(path)
    table = read_table(path)
    assert table.kind == "parquet" and table.frame.schema["outcome"] == pl.Boolean
    assert table.where(1) == f"{path}, row 2"


def test_bom_crlf_and_a_url(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"\xef\xbb\xbf" + FRAME.write_csv().replace("\n", "\r\n").encode())
    assert read_table(path).frame.equals(FRAME)
    assert read_table(path.as_uri()).frame.equals(FRAME)  # file:// goes through the URL reader


def test_headerless_uci_file_is_detected(tmp_path: Path) -> None:
    from model.wdbc import UCI_COLUMNS, load_bundled

    path = tmp_path / "wdbc.data"
    load_bundled().head(5).write_csv(path, include_header=False)
    table = read_table(path)
    assert table.kind == "uci" and table.frame.columns == list(UCI_COLUMNS) and table.frame.height == 5
    assert table.where(2) == f"{path}, line 3"  # no header line to skip


def test_ragged_row_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('a,b,c\n1,2,3\n4,"x\ny",6\n7,8,9,10\n')
    with pytest.raises(DataError, match=r"t.csv, line 5: expected 3 fields \(as in the first line\), saw 4"):
        read_table(path)


def test_line_of_row_counts_quoted_newlines() -> None:
    text = b'a,b\n1,"two\nlines"\n3,4\n5,6\n'
    assert [line_of_row(text, row, ",", True) for row in range(3)] == [2, 4, 5]


@pytest.mark.parametrize(("content", "match"), [
    (b"", r"line 1: the file is empty"),
    (b"\n\na,b\n", r"line 1: the file is empty or starts with a blank line"),
])
def test_empty_inputs(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=match):
        read_table(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"Data file not found: .*nope.csv\. .*omit --data to use the bundled"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(DataError, match=r"is a directory; expected a CSV or Parquet file"):
        read_table(tmp_path)


def test_a_quoted_header_name_is_read_as_the_csv_standard_reads_it(tmp_path: Path) -> None:
    """The issue's case: `"x""y"` was stored as x""y, so the scorer (which reads x"y) refused the model's own
    training file."""
    import csv

    path = tmp_path / "t.csv"
    path.write_text('a,"x""y","b,c"\n1,2,3\n4,5,6\n')
    table = read_table(path)
    assert table.frame.columns == ['a', 'x"y', "b,c"] == next(csv.reader(open(path)))
    assert table.frame["x\"y"].to_list() == [2, 5]
