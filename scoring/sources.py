"""Input streams: a file, ``-`` for stdin, or .gz/.bz2 decompressed on the fly; they close themselves."""

from __future__ import annotations

import argparse
import bz2
import contextlib
import csv
import gzip
import os
import sys
from pathlib import Path
from typing import IO

from scoring.errors import InputError

BOM = b"\xef\xbb\xbf"
OPENERS = {".gz": gzip.open, ".bz2": bz2.open}
#: Field separators a header is sniffed for (what spreadsheets and databases write), the first preferred on a tie.
SEPARATORS = (",", ";", "\t", "|")


class Source(contextlib.AbstractContextManager):
    """A binary input stream (file, ``-`` for stdin, .gz/.bz2 decompressed on the fly) that closes itself."""

    def __init__(self, path: str | Path) -> None:
        self.name = str(path)
        self._raw: IO[bytes] | None = None
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
        self.size = os.fstat(self._raw.fileno()).st_size
        opener = OPENERS.get(path.suffix.lower())
        self.stream = opener(self._raw, "rb") if opener else self._raw

    def position(self) -> int:
        """Bytes of the underlying file consumed so far (compressed bytes for .gz/.bz2)."""
        return self._raw.tell() if self._raw is not None else 0

    def read(self, n: int) -> bytes:
        try:
            return self.stream.read(n)
        except (OSError, EOFError) as exc:  # truncated or corrupt compressed data
            raise InputError(f"cannot read: {exc}", self.name) from None

    def readline(self) -> bytes:
        try:
            return self.stream.readline()
        except (OSError, EOFError) as exc:
            raise InputError(f"cannot read: {exc}", self.name) from None

    def close(self) -> None:
        if self.stream is not self._raw and self._raw is not None:
            self.stream.close()
        if self._raw is not None:
            self._raw.close()

    def __exit__(self, *exc: object) -> None:
        self.close()



def read_first_line(source: Source) -> tuple[bytes, bytes]:
    """The first line (without BOM and line ending) and whatever was read past it."""
    buffer = b""
    while b"\n" not in buffer:
        chunk = source.read(1 << 16)
        if not chunk:
            break
        buffer += chunk
    if buffer.startswith(BOM):
        buffer = buffer[len(BOM):]
    line, _, rest = buffer.partition(b"\n")
    if not line.strip(b"\r\n\t "):
        raise InputError("the file is empty; expected a header line naming the feature columns "
                         "(or pass --no-header for headerless data)", source.name, 1)
    return line.rstrip(b"\r"), rest


def sniff_separator(header: str) -> str:
    """The separator that splits the header line into the most fields (``,`` when none splits it)."""
    try:
        counts = {sep: len(next(csv.reader([header], delimiter=sep), [])) for sep in SEPARATORS}
    except csv.Error:  # e.g. a bare CR inside: not a header line; the reader will say what is wrong, and where
        return ","
    return max(SEPARATORS, key=lambda sep: counts[sep])  # max keeps the first of equals: ',' wins ties


def separator_option(text: str) -> str:
    """``--sep``: one of the separators, with ``tab`` or ``\\t`` for a tab."""
    value = {"tab": "\t", "\\t": "\t"}.get(text.lower(), text)
    if value not in SEPARATORS:
        raise argparse.ArgumentTypeError(f"expected one of , ; | tab, got {text!r}")
    return value
