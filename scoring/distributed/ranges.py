"""Blocks of an input: byte ranges cut at line ends (a compressed file is one block), staged on a worker."""

from __future__ import annotations

import mmap
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scoring.distributed.storage import filesystem, is_local, storage_errors
from scoring.errors import InputError
from scoring.io.sources import MAX_HEADER_BYTES

#: Bytes per block unless --blocksize says otherwise.
DEFAULT_BLOCKSIZE = "64MiB"

FIX_ROW = "Fix the row and run the job again; no _SUCCESS was written."
QUOTED_NEWLINE = ("a quoted field starts on this line and runs past a line end where the job cuts its blocks; "
                  "the Dask job splits files at line ends, so it cannot score fields that contain line breaks")
QUOTED_NEWLINE_FIX = ("Remove the line breaks inside quoted fields, or score this file with python -m scoring.batch, "
                      "which reads them.")
_CHUNK = 1 << 24


@dataclass(frozen=True)
class RangeTask:
    """One block: bytes [offset, offset + length) of ``path``, widened to whole lines; ``length`` None means
    the whole file (a compressed file, which cannot be split)."""

    path: str
    file_index: int
    block_index: int
    offset: int
    length: int | None
    header: bytes
    compression: str | None = None


class BlockInputError(InputError):
    """Bad input inside a block. ``relative_line`` counts from the block's first line (the whole file's for a
    compressed one) until the client, which can read the file's prefix, turns it into the file's line.
    ``kind`` is "row" (the scorer refused a row) or "quotes" (the block ends inside a quoted field)."""

    def __init__(self, task: RangeTask, data_start: int, relative_line: int, column: str | None,
                 column_number: int | None, reason: str, kind: str = "row") -> None:
        self.task, self.data_start, self.relative_line, self.kind = task, data_start, relative_line, kind
        super().__init__(reason, task.path, relative_line, column, column_number)

    def __reduce__(self) -> tuple:  # survive pickling from worker to client with every field
        return (BlockInputError, (self.task, self.data_start, self.relative_line, self.column, self.column_number,
                                  self.reason, self.kind))


def infer_compression(path: str) -> str | None:
    """The compression fsspec infers from the name (gzip, bz2, xz, zstd, ...), or None for a plain file."""
    from fsspec.utils import infer_compression as infer

    return infer(path)


#: The most blocks one input may be cut into: a task each, planned and tracked on the client.
MAX_BLOCKS = 100_000


def read_header(handle: Any, limit: int = MAX_HEADER_BYTES) -> bytes:
    """The first line with its line end, read in chunks and kept to just over ``limit`` bytes, so a file with no
    line end is not read whole (fsspec's remote files take no size in ``readline``)."""
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = handle.read(1 << 16)
        if not chunk:
            break
        end = chunk.find(b"\n")
        if end >= 0:
            parts.append(chunk[:end + 1])
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


def plan_file(path: str, file_index: int, blocksize: int, options: dict[str, Any]) -> tuple[list[RangeTask], bytes]:
    """Split one input into blocks (one for a compressed file); returns them and the header line."""
    compression = infer_compression(path)
    fs, inner = filesystem(path, options)
    try:
        with fs.open(inner, "rb", compression=compression) as handle:
            header = read_header(handle)
            size = None if compression else handle.seek(0, os.SEEK_END)
    except storage_errors() + (EOFError,) as exc:  # missing, unreadable, or a corrupt compressed stream
        raise InputError(f"cannot read: {exc}", path) from None
    if len(header) > MAX_HEADER_BYTES:
        raise InputError(f"the first line is longer than {MAX_HEADER_BYTES >> 20} MiB; expected a header line naming "
                         "the columns (is this a CSV file?)", path, 1)
    if not header.strip():
        raise InputError("the file is empty; expected a header line naming the feature columns", path, 1)
    if size is None:
        return [RangeTask(path, file_index, 0, 0, None, header, compression)], header
    if -(-size // blocksize) > MAX_BLOCKS:  # counted before a task exists: --blocksize 1 made millions
        raise InputError(f"would be cut into {-(-size // blocksize):,} blocks of {blocksize:,} bytes, over the "
                         f"{MAX_BLOCKS:,} one job may have; pass a larger --blocksize", path)
    return [RangeTask(path, file_index, i, offset, blocksize, header)
            for i, offset in enumerate(range(0, max(size, 1), blocksize))], header


def seek_line_start(handle: Any, position: int) -> int:
    """Just past the first newline at or after ``position`` (0 stays 0). Neighbouring blocks compute their
    shared boundary the same way, so every line lands in exactly one block."""
    from fsspec.utils import seek_delimiter

    handle.seek(position)
    seek_delimiter(handle, b"\n", 1 << 16)
    return handle.tell()


def range_bounds(handle: Any, task: RangeTask) -> tuple[int, int]:
    """The block's lines: [start, end) in the file, past the header."""
    start = max(seek_line_start(handle, task.offset), len(task.header))
    return start, max(seek_line_start(handle, task.offset + (task.length or 0)), start)


def stage_range(task: RangeTask, target: Path, options: dict[str, Any]) -> tuple[int, bool]:
    """Write the file's header and the block's whole lines to ``target`` (a compressed file: all of it,
    decompressed). Returns where the lines start in the file and whether the block ends the file.

    A local plain input is copied by the kernel (``copy_file_range``), without passing through Python.
    """
    fs, inner = filesystem(task.path, options)
    with open(target, "wb") as out:
        if task.compression:
            with fs.open(inner, "rb", compression=task.compression) as handle:
                shutil.copyfileobj(handle, out, _CHUNK)
            return 0, True
        out.write(task.header)
        out.flush()
        with (open(inner, "rb") if is_local(fs) else fs.open(inner, "rb")) as handle:
            start, end = range_bounds(handle, task)
            size = handle.seek(0, os.SEEK_END)
            if is_local(fs):
                _copy_range(handle, out, start, end - start)
            else:
                handle.seek(start)
                _copy_stream(handle, out, end - start)
    return start, end >= size


def _copy_range(source: Any, out: Any, offset: int, count: int) -> None:
    try:
        while count > 0:
            copied = os.copy_file_range(source.fileno(), out.fileno(), count, offset)
            if copied == 0:
                break
            offset, count = offset + copied, count - copied
    except OSError:  # e.g. across filesystems on older kernels: copy through userland
        source.seek(offset)
        out.seek(0, os.SEEK_END)
        _copy_stream(source, out, count)


def _copy_stream(source: Any, out: Any, count: int) -> None:
    while count > 0:
        chunk = source.read(min(count, _CHUNK))
        if not chunk:
            break
        out.write(chunk)
        count -= len(chunk)


def odd_quotes(staged: Path, skip: int) -> bool:
    """Whether the staged lines past ``skip`` bytes hold an odd number of double quotes: the block then ends
    inside a quoted field (or starts inside one). ``""`` escapes keep the parity, as in the block cutter of the
    single-machine scorer."""
    with open(staged, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        if mapped.find(b'"', skip) == -1:  # memchr-fast: the common case has no quotes at all
            return False
        view = np.frombuffer(mapped, np.uint8)
        odd = bool(np.count_nonzero(view[skip:] == ord('"')) % 2)
        del view  # the map cannot close while a view exports its buffer
    return odd


def scan_prefix(handle: Any, positions: list[int]) -> dict[int, tuple[int, int | None]]:
    """For each byte position (sorted): the newlines before it, and the 1-based line where a quoted field
    that is still open there started (None if the position is outside quotes). Reads up to the last one."""
    found: dict[int, tuple[int, int | None]] = {}
    base = newlines = parity = 0
    last_quote_line: int | None = None
    pending = list(positions)
    while pending:
        chunk = handle.read(min(_CHUNK, max(pending[-1] - base, 1)))
        data = np.frombuffer(chunk, np.uint8)
        breaks, quotes = np.flatnonzero(data == ord("\n")), np.flatnonzero(data == ord('"'))
        while pending and (pending[0] <= base + len(chunk) or not chunk):
            at = min(pending.pop(0) - base, len(chunk))
            before = int(np.searchsorted(quotes, at))
            inside = (parity + before) % 2 == 1
            opener = (newlines + int(np.searchsorted(breaks, quotes[before - 1])) + 1) if before else last_quote_line
            found[at + base] = (newlines + int(np.searchsorted(breaks, at)), opener if inside else None)
        if len(quotes):
            last_quote_line = newlines + int(np.searchsorted(breaks, quotes[-1])) + 1
        parity = (parity + len(quotes)) % 2
        newlines += len(breaks)
        base += len(chunk)
    return found


def explain(error: BlockInputError, file_tasks: list[RangeTask], options: dict[str, Any]) -> InputError:
    """The error a user should see: a quoted field cut by a block boundary where there is one (blamed on
    the line where that field starts), else the worker's own error at the file's line."""
    task = error.task
    if task.compression:  # staged whole: its lines are the file's
        return InputError(error.reason, task.path, error.relative_line, error.column, error.column_number, FIX_ROW)
    fs, inner = filesystem(task.path, options)
    with fs.open(inner, "rb") as handle:
        boundaries = [range_bounds(handle, t)[0] for t in file_tasks[1 : task.block_index + 2]]
        handle.seek(0)
        scanned = scan_prefix(handle, sorted({*boundaries, error.data_start}))
    for boundary in boundaries:
        opener = scanned[boundary][1]
        if opener is not None:
            return InputError(QUOTED_NEWLINE, task.path, opener, hint=QUOTED_NEWLINE_FIX)
    line = scanned[error.data_start][0] + error.relative_line
    return InputError(error.reason, task.path, line, error.column, error.column_number, FIX_ROW)
