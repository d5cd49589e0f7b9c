"""Input streams: a file, ``-`` for stdin, or .gz/.bz2 decompressed on the fly; they close themselves."""

from __future__ import annotations

import bz2
import contextlib
import gzip
import os
import stat
import sys
from pathlib import Path
from typing import IO

from contract.text import BOM
from scoring.errors import InputError

OPENERS = {".gz": gzip.open, ".bz2": bz2.open}


class Source(contextlib.AbstractContextManager):
    """A binary input stream (file, ``-`` for stdin, .gz/.bz2 decompressed on the fly) that closes itself."""

    def __init__(self, path: str | Path) -> None:
        self.name = str(path)
        self._raw: IO[bytes] | None = None
        self._regular = False
        if self.name == "-":
            self.stream: IO[bytes] = sys.stdin.buffer
            self.size = None
            return
        path = Path(path)
        try:
            self._raw = open(path, "rb")
        except FileNotFoundError:
            raise InputError("file not found; expected a CSV file path or '-' for stdin", self.name) from None
        except IsADirectoryError:
            raise InputError("is a directory; expected a CSV file", self.name) from None
        except OSError as exc:
            raise InputError(f"cannot open: {exc.strerror}", self.name) from None
        st = os.fstat(self._raw.fileno())
        self.size, self._regular = st.st_size, stat.S_ISREG(st.st_mode)
        opener = OPENERS.get(path.suffix.lower())
        self.stream = opener(self._raw, "rb") if opener else self._raw

    def position(self) -> int:
        """Bytes of the underlying file consumed so far (compressed bytes for .gz/.bz2)."""
        return self._raw.tell() if self._raw is not None else 0

    def read(self, n: int) -> bytes:
        try:
            data = self.stream.read(n)
        except (OSError, EOFError) as exc:  # truncated or corrupt compressed data
            raise InputError(f"cannot read: {exc}", self.name) from None
        if not data and n:
            self._check_unchanged()
        return data

    def readline(self, limit: int = -1) -> bytes:
        try:
            data = self.stream.readline(limit)
        except (OSError, EOFError) as exc:
            raise InputError(f"cannot read: {exc}", self.name) from None
        if not data and limit:
            self._check_unchanged()
        return data

    def _check_unchanged(self) -> None:
        """At the end of a file: it must have been read to the size it had when opened, and still have that size. A
        file truncated or appended to while it was read would give a result that matches neither version."""
        if self._raw is None or not self._regular:
            return
        now, read = os.fstat(self._raw.fileno()).st_size, self._raw.tell()
        if now != self.size or read != self.size:
            raise InputError(f"changed while it was read: {self.size:,} bytes when opened, {now:,} now ({read:,} read); "
                             "score a copy that nothing is writing to", self.name)

    def close(self) -> None:
        if self.stream is not self._raw and self._raw is not None:
            self.stream.close()
        if self._raw is not None:
            self._raw.close()

    def __exit__(self, *exc: object) -> None:
        self.close()



#: The longest first line (the header) read: one with no line end is refused here, not read to the end (a 2 MiB
#: gzip bomb inflates to a 2 GiB line; /dev/zero never ends).
MAX_HEADER_BYTES = 16 << 20
_CHUNK = 1 << 16


def read_first_line(source: Source, limit: int = MAX_HEADER_BYTES) -> tuple[bytes, bytes]:
    """The first line (without BOM and line ending) and whatever was read past it: in linear time (only the new
    bytes are searched for the line end) and at most ``limit`` bytes of it (an InputError at line 1 beyond)."""
    parts: list[bytes] = []
    size = 0
    while True:
        chunk = source.read(_CHUNK)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
        if b"\n" in chunk or size > limit + len(BOM):
            break
    buffer = b"".join(parts)
    if buffer.startswith(BOM):
        buffer = buffer[len(BOM):]
    line, newline, rest = buffer.partition(b"\n")
    if len(line) > limit:
        raise InputError(f"the first line is longer than {limit >> 20} MiB{'' if newline else ' with no line end'}; "
                         "expected a header line naming the columns (is this a CSV file?)", source.name, 1)
    if not line.strip(b"\r\n\t "):
        raise InputError("the file is empty; expected a header line naming the feature columns "
                         "(or pass --no-header for headerless data)", source.name, 1)
    return line.rstrip(b"\r"), rest
