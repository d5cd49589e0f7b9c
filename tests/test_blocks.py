"""Tests for scoring.blocks: records are never split or lost, and lines are tracked."""

from __future__ import annotations

import io

import pytest

from scoring.blocks import iter_blocks


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
