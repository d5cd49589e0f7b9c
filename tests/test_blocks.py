"""Tests for scoring.io.blocks: records are never split or lost, and lines are tracked."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.io.blocks import iter_blocks


class FakeSource:
    name = "mem.csv"

    def __init__(self, data: bytes) -> None:
        self._io = io.BytesIO(data)

    def read(self, n: int) -> bytes:
        return self._io.read(min(n, 7))  # short reads, as pipes give

    def readline(self, limit: int = -1) -> bytes:
        return self._io.readline(min(limit, 7) if limit > 0 else limit)  # short reads here too


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


FIELD = st.text(alphabet=st.sampled_from(['a', 'é', ' ', ',', '"', '\n', '\r', '1']), max_size=6)


@settings(max_examples=300)
@given(records=st.lists(st.lists(FIELD, min_size=1, max_size=4), min_size=1, max_size=30),
       terminator=st.sampled_from(["\n", "\r\n"]), final_newline=st.booleans(),
       target=st.integers(1, 200), head=st.integers(0, 50))
@pytest.mark.slow
def test_cutting_never_splits_or_loses_a_record(records: list[list[str]], terminator: str, final_newline: bool,
                                                target: int, head: int) -> None:
    """Quotes, commas, CR, LF and CRLF inside fields: every block holds whole records, none is lost."""
    text = io.StringIO()
    csv.writer(text, lineterminator=terminator).writerows(records)
    data = text.getvalue().encode()
    if not final_newline:
        data = data[: -len(terminator)]
    blocks = list(iter_blocks(FakeSource(data[head:]), data[:head], 1, target))
    assert b"".join(b.data for b in blocks) == data
    parsed, offset = [], 0
    for block in blocks:
        assert block.first_line == 1 + data.count(b"\n", 0, offset)
        parsed += list(csv.reader(io.StringIO(block.data.decode(), newline="")))
        offset += len(block.data)
    assert parsed == list(csv.reader(io.StringIO(data.decode(), newline="")))


@pytest.mark.parametrize(("data", "first"), [
    (b"id,x\r\n1,2\r\n", b"id,x"),
    (b'id,"a\nb"\n1,2\n', b'id,"a\nb"'),
    (b'id,"say ""hi""\n!"\n1\n', b'id,"say ""hi""\n!"'),
    (b"id,x", b"id,x"),
    (b'"open\n', b'"open'),
    (b"", b""),
    (b"id,X\n1,2\n", b"id,X"),  # only the line ending goes: not a last column's X
    (b"a\tb\t\n1\t2\t\n", b"a\tb\t"),  # nor the tab before an empty last column (--sep '\t')
    (b"\nid,x\n", b""),  # a blank first line is an empty first record, not the next line
])
def test_first_record_is_the_header_whole_even_across_quoted_newlines(data: bytes, first: bytes) -> None:
    from scoring.io.blocks import first_record

    assert first_record(data) == first


def test_record_end_finds_the_first_line_end_outside_quotes_at_or_after_start() -> None:
    from scoring.io.blocks import record_end

    data = b'a\n"b\nc"\nd'
    assert [record_end(data, s) for s in (0, 1, 2, 4, 7, 8)] == [2, 2, 8, 8, 8, 0]
    assert record_end(b"a\nb\n", 2) == 4 and record_end(b"a\nb", 2) == 0
    assert record_end(b'x\n"y\n', 0) == 2 and record_end(b'x\n"y\n', 2) == 0  # an open quote never ends


def test_blocks_count_lines_with_a_quoted_newline_and_no_final_newline() -> None:
    data = b'1,"a\nb"\n2,c\n3,d'
    blocks = list(iter_blocks(FakeSource(data), b"", 5, 4))
    assert [(b.data, b.first_line) for b in blocks] == [(b'1,"a\nb"\n', 5), (b"2,c\n", 7), (b"3,d", 8)]


def test_memory_stays_bounded_reads_never_ask_for_more_than_one_block() -> None:
    """Each block is at most the target plus the rest of one record, and no read asks for more than the target
    (whatever was left over from the previous block), so memory does not grow with the input."""
    asked: list[int] = []

    class Recording(FakeSource):
        def read(self, n: int) -> bytes:
            asked.append(n)
            return self._io.read(n)

    record = b"%d,1.25,2.5\n"
    data = b"".join(record % i for i in range(5_000))
    target = 1_000
    source = Recording(data[37:])
    blocks = iter_blocks(source, data[:37], 2, target)
    first = next(blocks)
    assert source._io.tell() <= target + len(record % 4_999)  # read lazily: one block, not the file
    blocks = [first, *blocks]
    assert b"".join(b.data for b in blocks) == data
    assert max(asked) <= target
    assert max(len(b.data) for b in blocks) <= target + len(record % 4_999)


@pytest.mark.parametrize("head", [0, 500])  # bytes already read before the first block (the header sniff's)
@pytest.mark.parametrize("target", [1, 9, 10, 11, 12, 50, 333])
def test_each_block_but_the_last_is_the_fewest_whole_records_that_reach_the_target(target: int, head: int) -> None:
    records = [b"%d,%s\n" % (i, b"x" * (i % 7)) for i in range(200)]  # lengths 4 to 13 bytes
    data = b"".join(records)
    blocks = list(iter_blocks(FakeSource(data[head:]), data[:head], 2, target))
    assert b"".join(b.data for b in blocks) == data
    for block in blocks:
        last = block.data[block.data.rstrip(b"\n").rfind(b"\n") + 1:]
        assert len(block.data) - len(last) < target, (target, block.data)  # no record more than needed
        if block is not blocks[-1]:
            assert len(block.data) >= target, (target, block.data)


def _record_end_by_hand(data: bytes, start: int) -> int:
    """The reference: walk the bytes, flipping in/out of quotes at every quote character."""
    quoted = False
    for i, byte in enumerate(data):
        if byte == ord('"'):
            quoted = not quoted
        elif byte == ord("\n") and not quoted and i >= start:
            return i + 1
    return 0


@settings(max_examples=500)
@given(data=st.binary(max_size=40).map(lambda b: bytes(b'a",\n'[x % 4] for x in b)), start=st.integers(0, 41))
def test_record_end_agrees_with_a_byte_by_byte_walk(data: bytes, start: int) -> None:
    from scoring.io.blocks import record_end

    assert record_end(data, min(start, len(data))) == _record_end_by_hand(data, min(start, len(data)))
