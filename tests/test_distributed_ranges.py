"""Tests for scoring.distributed.ranges: blocks cut at line ends, compressed files whole, staging, diagnosis."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma

import pytest

from scoring.distributed.ranges import (
    BlockInputError,
    explain,
    odd_quotes,
    plan_file,
    range_bounds,
    scan_prefix,
    stage_range,
)
from scoring.errors import InputError
from tests.expect import says

TEXT = b"id,a,b\n1,2,3\n44,55,66\n777,888,999\n"


def test_blocks_cover_every_line_exactly_once(tmp_path) -> None:
    src = tmp_path / "in.csv"
    src.write_bytes(TEXT)
    tasks, header = plan_file(str(src), 0, 9, {})
    assert header == b"id,a,b\n" and [t.offset for t in tasks] == [0, 9, 18, 27]
    staged = []
    for task in tasks:
        target = tmp_path / f"block-{task.block_index}.csv"
        stage_range(task, target, {})
        staged.append(target.read_bytes().removeprefix(header))
    assert b"".join(staged) == TEXT.removeprefix(header)
    assert all(s == b"" or s.endswith(b"\n") for s in staged)


@pytest.mark.parametrize("suffix, compress", [(".gz", gzip.compress), (".bz2", bz2.compress), (".xz", lzma.compress)])
def test_a_compressed_file_is_one_block_staged_whole(tmp_path, suffix, compress) -> None:
    src = tmp_path / f"in.csv{suffix}"
    src.write_bytes(compress(TEXT))
    tasks, header = plan_file(str(src), 3, 4, {})
    assert len(tasks) == 1 and tasks[0].length is None and tasks[0].compression and header == b"id,a,b\n"
    target = tmp_path / "staged.csv"
    assert stage_range(tasks[0], target, {}) == (0, True)
    assert target.read_bytes() == TEXT


def test_a_corrupt_or_empty_input_is_an_input_error(tmp_path) -> None:
    corrupt = tmp_path / "bad.csv.gz"
    corrupt.write_bytes(b"\x1f\x8b not gzip at all")
    with pytest.raises(InputError, match=r"bad\.csv\.gz: cannot read: "):
        plan_file(str(corrupt), 0, 100, {})
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"\n")
    with pytest.raises(InputError, match=r"empty\.csv, line 1: the file is empty"):
        plan_file(str(empty), 0, 100, {})


def test_odd_quotes_counts_past_the_header_only(tmp_path) -> None:
    staged = tmp_path / "s.csv"
    staged.write_bytes(b'"id",a\n"1,2\n')
    assert odd_quotes(staged, len(b'"id",a\n'))
    staged.write_bytes(b'"id",a\n"1",""""\n')
    assert not odd_quotes(staged, len(b'"id",a\n'))
    staged.write_bytes(b"id,a\n1,2\n")
    assert not odd_quotes(staged, 5)


def test_scan_prefix_counts_lines_and_finds_the_open_quoted_field() -> None:
    data = b'h\n1,x\n2,"a\nb\nc",3\n4,"q"\n5\n'
    inside_b = data.index(b"b\n")  # a line start inside the quoted field that opened on line 3
    after = data.index(b"4,")
    scanned = scan_prefix(io.BytesIO(data), [0, 2, inside_b, after])
    assert scanned[0] == (0, None) and scanned[2] == (1, None)
    assert scanned[inside_b] == (3, 3)
    assert scanned[after] == (5, None)


def test_scan_prefix_carries_state_across_read_chunks(monkeypatch) -> None:
    monkeypatch.setattr("scoring.distributed.ranges._CHUNK", 4)
    data = b'h\n1,"x\ny\nz"\n2\n"3\n'
    scanned = scan_prefix(io.BytesIO(data), [data.index(b"y"), data.index(b"z"), data.index(b"2"), len(data)])
    assert scanned[data.index(b"y")] == (2, 2) and scanned[data.index(b"z")] == (3, 2)
    assert scanned[data.index(b"2")] == (4, None)
    assert scanned[len(data)] == (6, 6)


def test_explain_blames_the_line_where_a_cut_quoted_field_starts(tmp_path) -> None:
    src = tmp_path / "q.csv"
    rows = [b"id,a,b"] + [b"%d,1,2" % i for i in range(2, 30)]
    rows[20] = b'20,"multi\nline",2'  # file line 21 opens a quoted field that spans a line end
    src.write_bytes(b"\n".join(rows) + b"\n")
    # A block offset right at line 21's start: that block begins after the next line end, inside the field.
    tasks, _ = plan_file(str(src), 0, src.read_bytes().index(b'20,"multi'), {})
    with open(src, "rb") as handle:
        start, _ = range_bounds(handle, tasks[1])
    assert start == src.read_bytes().index(b'line",2')
    # The block after the cut fails on the field's second half, a line that is not a valid row by itself...
    error = BlockInputError(tasks[1], start, 1, "a", 2, "expected a number, got 'line\"'.")
    message = str(explain(error, tasks, {}))
    # ...but the error names the line where the quoted field starts, and says what happened.
    assert message.startswith(f"{src}, line 21: a quoted field starts on this line and runs past a line end")
    assert "python -m scoring.batch" in message


def test_explain_turns_a_block_line_into_the_file_line(tmp_path) -> None:
    src = tmp_path / "in.csv"
    src.write_bytes(b"id,a\n" + b"".join(b"%d,1\n" % i for i in range(100)))
    tasks, _ = plan_file(str(src), 0, 64, {})
    task = tasks[3]
    with open(src, "rb") as handle:
        start, _ = range_bounds(handle, task)
    error = BlockInputError(task, start, 2, "a", 2, "expected a number, got 'x'.")
    expected_line = src.read_bytes()[:start].count(b"\n") + 2
    says(str(explain(error, tasks, {})), f"{src}, line {expected_line}, column 2 ('a'):", "got 'x'", "Fix the row",
         "no _SUCCESS")


def test_block_errors_survive_pickling(tmp_path) -> None:
    import pickle

    src = tmp_path / "in.csv"
    src.write_bytes(TEXT)
    task = plan_file(str(src), 0, 9, {})[0][1]
    error = pickle.loads(pickle.dumps(BlockInputError(task, 9, 4, "b", 3, "why", kind="quotes")))
    assert (error.task, error.data_start, error.relative_line, error.column, error.column_number, error.reason,
            error.kind) == (task, 9, 4, "b", 3, "why", "quotes")
