"""Tests for scoring.csv_stream: blocks, column matching, the two parsing paths, atomic output."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from model.data import FEATURE_NAMES
from scoring.csv_stream import (
    AtomicOutput, Block, Source, iter_blocks, parse_block, read_first_line, resolve_layout, _parse_exact,
)
from scoring.errors import InputError

NAMES = list(FEATURE_NAMES)


class FakeSource:
    name = "mem.csv"

    def __init__(self, data: bytes) -> None:
        self._io = io.BytesIO(data)

    def read(self, n: int) -> bytes:
        return self._io.read(min(n, 7))  # short reads, as pipes give

    def readline(self) -> bytes:
        return self._io.readline()


@pytest.mark.parametrize("target", [1, 5, 17, 64, 10_000])
def test_blocks_end_on_record_boundaries_and_track_lines(target: int) -> None:
    data = b"".join(b'%d,"q\n%d",x\n' % (i, i) if i % 3 == 0 else b"%d,y,z\n" % i for i in range(40))
    blocks = list(iter_blocks(FakeSource(data[10:]), data[:10], 2, target))
    assert b"".join(b.data for b in blocks) == data
    line = 2
    for block in blocks:
        assert block.first_line == line
        assert block.data.count(b'"') % 2 == 0  # never cut inside a quoted field
        line += block.data.count(b"\n")


def test_layout_matches_columns_by_name_in_any_order() -> None:
    header = ["note", *reversed(NAMES), "id"]
    layout = resolve_layout(header, NAMES, "f.csv")
    assert [layout.names[i] for i in layout.feature_index] == NAMES
    assert layout.keep_names == ["id"]
    assert layout.output_names == ["id", "probability", "label"]


def test_missing_features_are_listed_with_close_matches() -> None:
    header = ["id", *NAMES]
    header[header.index("radius_mean")] = "radius mean"
    header.remove("texture_mean")
    with pytest.raises(InputError, match=r"f.csv, line 1: missing 2 feature columns the model needs: "
                                         r"'radius_mean', 'texture_mean'\. Did you mean 'radius mean' for 'radius_mean'\?"):
        resolve_layout(header, NAMES, "f.csv")


def test_duplicate_columns_are_rejected() -> None:
    with pytest.raises(InputError, match=r"duplicate column names: 'radius_mean' in columns 2, 32"):
        resolve_layout(["id", *NAMES, "radius_mean"], NAMES, "f.csv")


def test_headerless_layout_takes_the_last_columns_as_features() -> None:
    layout = resolve_layout(["842302", "M", *["1"] * 30], NAMES, "wdbc.data", has_header=False)
    assert layout.feature_index == tuple(range(2, 32))
    assert layout.keep_names == ["column_1", "column_2"]
    with pytest.raises(InputError, match="expected at least 30 columns .* found 5"):
        resolve_layout(["1"] * 5, NAMES, "x", has_header=False)


def _rows(values: list[list[str]]) -> bytes:
    return "".join(",".join(r) + "\n" for r in values).encode()


def test_fast_and_exact_paths_agree_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    values = [[str(i)] + [repr(float(v)) for v in rng.normal(0, 100, 30)] for i in range(200)]
    layout = resolve_layout(["id", *NAMES], NAMES, "f.csv")
    block = Block(_rows(values), 2)
    fast, exact = parse_block(block, layout), _parse_exact(block, layout)
    assert fast.features.tobytes() == exact.features.tobytes()
    assert fast.kept.equals(exact.kept)


@pytest.mark.parametrize(
    ("bad", "field", "message"),
    [("abc", 3, r"line 5, column 4 \('texture_mean'\): expected a number, got 'abc'"),
     ("", 2, r"line 5, column 3 \('radius_mean'\): expected a number, got an empty value"),
     ("nan", 5, r"line 5, column 6 \('area_mean'\): expected a finite number, got NaN"),
     ("-inf", 31, r"line 5, column 32 \('fractal_dimension_largest'\): expected a finite number, got an infinite")],
)
def test_bad_values_are_located_by_line_and_column(bad: str, field: int, message: str) -> None:
    values = [["7", "B"] + ["1.5"] * 30 for _ in range(6)]
    values[3][field] = bad
    layout = resolve_layout(["id", "diagnosis", *NAMES], NAMES, "f.csv")
    parsed = parse_block(Block(_rows(values), 2), layout)
    assert parsed.rows == 5 and len(parsed.rejects) == 1
    with pytest.raises(InputError, match=message):
        raise parsed.rejects[0].error("f.csv")


def test_ragged_rows_and_blank_lines() -> None:
    values = [["1"] + ["1.5"] * 30, ["2"] + ["1.5"] * 29, [], ["3"] + ["1.5"] * 31, ["4"] + ["2"] * 30]
    layout = resolve_layout(["id", *NAMES], NAMES, "f.csv")
    parsed = parse_block(Block(_rows(values), 10), layout)
    assert parsed.kept["id"].to_list() == ["1", "4"]
    assert [(r.line, r.reason) for r in parsed.rejects] == [
        (11, "expected 31 fields (as in the header), saw 30"), (13, "expected 31 fields (as in the header), saw 32")]


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
