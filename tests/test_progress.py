"""Tests for scoring.progress: a bar in bytes with a total and an ETA, moved by rows, cleared when closed."""

from __future__ import annotations

import io
from pathlib import Path

from scoring.progress import RowsAsBytes, bytes_per_record, progress_bar


def _final_line(text: str) -> str:
    """What a terminal shows on the bar's line once ``text`` is drawn: each carriage return starts over."""
    return text.split("\r")[-1]


def test_bytes_per_record_skips_the_header(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_bytes(b"a_long_header_line,b,c\n" + b"1,2,3\n" * 10 + b"10,20,30\n" * 10)  # 6- and 9-byte records
    assert bytes_per_record(src) == 7.5
    assert bytes_per_record(src, sample=23 + 6 * 4 + 3) == 6.0  # a cut record at the end of the sample is left out


def test_bytes_per_record_without_a_complete_record(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_bytes(b"header only, no newline")
    assert bytes_per_record(src) == 1.0


def test_a_known_size_gives_bytes_with_a_total_and_an_eta() -> None:
    stream = io.StringIO()
    bar = progress_bar(4 * 2**20, stream)
    bar.update(2**20)
    bar.refresh()
    shown = _final_line(stream.getvalue())
    assert "1.00M/4.00M" in shown and "25%" in shown
    assert "<" in shown  # [elapsed<remaining, rate]: the ETA
    bar.close()


def test_an_unknown_size_counts_rows() -> None:
    stream = io.StringIO()
    bar = progress_bar(None, stream)
    bar.update(1234)
    bar.refresh()
    assert "1.23k rows" in _final_line(stream.getvalue())
    bar.close()


def test_closing_clears_the_line() -> None:
    stream = io.StringIO()
    bar = progress_bar(1000, stream)
    bar.update(500)
    bar.close()
    assert "scoring" in stream.getvalue() and _final_line(stream.getvalue()) == ""


def test_rows_move_the_bar_below_the_total_until_finished() -> None:
    stream = io.StringIO()
    bar = progress_bar(1000, stream)
    moved = RowsAsBytes(bar, per_record=10.0)
    moved.add(30)
    assert bar.n == 300
    moved.add(500)  # more rows than the estimate allows for: held below the total
    assert bar.n == 999
    moved.finish()
    assert bar.n == 1000
    bar.close()
