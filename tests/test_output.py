"""Tests for scoring.output: atomic replacement of the output file."""

from __future__ import annotations

from pathlib import Path

import pytest

from scoring.output import AtomicOutput


def test_atomic_output_keeps_previous_content_on_error(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("previous\n")
    with pytest.raises(RuntimeError), AtomicOutput(target) as out:
        out.handle.write(b"partial")
        raise RuntimeError("boom")
    assert target.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
    with AtomicOutput(target) as out:
        out.handle.write(b"new\n")
        out.commit()
    assert target.read_text() == "new\n"
