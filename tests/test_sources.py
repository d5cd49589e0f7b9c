"""Tests for scoring.io.sources: BOM, CRLF and empty inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from scoring.errors import InputError
from scoring.io.sources import Source, read_first_line


def test_first_line_strips_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfid,a\r\n1,2\r\n")
    with Source(path) as src:
        first, rest = read_first_line(src)
    assert first == b"id,a" and rest == b"1,2\r\n"


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with Source(path) as src, pytest.raises(InputError, match=r"empty.csv, line 1: the file is empty"):
        read_first_line(src)
