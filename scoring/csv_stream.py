"""Streaming CSV input and output: sources, header and column matching, blocks, parsing, atomic files."""

from __future__ import annotations

import bz2
import contextlib
import csv
import difflib
import gzip
import io
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import polars as pl

from scoring.errors import InputError, ScoringError
from scoring.timing import UNTIMED, Stages

OUTPUT_COLUMNS = ("probability", "label")
BOM = b"\xef\xbb\xbf"
_OPENERS = {".gz": gzip.open, ".bz2": bz2.open}


# ----------------------------------------------------------------------------------------------
# Sources


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
        opener = _OPENERS.get(path.suffix.lower())
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


# ----------------------------------------------------------------------------------------------
# Header and column matching


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


def split_fields(line: bytes, source: str, line_number: int) -> list[str]:
    try:
        return next(csv.reader([line.decode("utf-8")]))
    except UnicodeDecodeError as exc:
        raise InputError(f"expected UTF-8 text, found byte 0x{line[exc.start]:02x}", source, line_number) from None


@dataclass(frozen=True)
class Layout:
    """Where the model's features and the pass-through columns are in the input."""

    source: str
    names: tuple[str, ...]
    feature_index: tuple[int, ...]
    keep_index: tuple[int, ...]
    has_header: bool

    @property
    def n_columns(self) -> int:
        return len(self.names)

    @property
    def keep_names(self) -> list[str]:
        return [self.names[i] for i in self.keep_index]

    @property
    def output_names(self) -> list[str]:
        return [*self.keep_names, *OUTPUT_COLUMNS]

    # How polars reads these columns: by position (named column_1, ...), features straight to float32
    # unless they are also passed through as text, and the last column always, to spot short rows.

    @property
    def polars_schema(self) -> dict[str, pl.DataType]:
        kept = set(self.keep_index)
        return {_col(i): pl.Float32 if i in self.feature_index and i not in kept else pl.String
                for i in range(self.n_columns)}

    @property
    def projection(self) -> list[str]:
        return [_col(i) for i in sorted({*self.feature_index, *self.keep_index, self.n_columns - 1})]

    def feature_matrix(self, frame: pl.DataFrame) -> np.ndarray:
        """C-contiguous float32 [rows, features] in model order (NaN where a value did not parse)."""
        features = frame.select([pl.col(_col(i)).cast(pl.Float32, strict=False) for i in self.feature_index])
        return np.ascontiguousarray(features.to_numpy(), dtype=np.float32).reshape(frame.height, -1)

    def doubtful(self, frame: pl.DataFrame, x: np.ndarray) -> bool:
        """NaN/inf/empty values, or a null last column (maybe a short row): only the exact path can tell."""
        return bool((x.size and not np.isfinite(x).all()) or (frame.height and frame[_col(self.n_columns - 1)].null_count()))

    def kept_columns(self, frame: pl.DataFrame) -> pl.DataFrame:
        return frame.select([pl.col(_col(i)).alias(self.names[i]) for i in self.keep_index])


def _col(i: int) -> str:
    return f"column_{i + 1}"  # polars' own names for headerless columns


def _quote_list(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _check_present(wanted: list[str], names: list[str], what: str, source: str) -> None:
    missing = sorted(set(wanted) - set(names), key=wanted.index)
    if not missing:
        return
    # Suggest only columns that are not wanted already: those are spoken for.
    candidates = [n for n in names if n not in wanted]
    hints = []
    for name in missing[:5]:
        close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.75)
        if close:
            hints.append(f"{close[0]!r} for {name!r}")
    hint = f" Did you mean {', '.join(hints)}?" if hints else ""
    raise InputError(f"missing {len(missing)} {what}: {_quote_list(missing)}.{hint}", source, 1)


def resolve_layout(first_fields: list[str], feature_names: list[str], source: str, has_header: bool = True,
                   keep: list[str] | None = None, keep_all: bool = False) -> Layout:
    """Match columns by name (header) or position (headerless: features are the last columns)."""
    n_features = len(feature_names)
    if has_header:
        names = [n.strip() for n in first_fields]
        seen: dict[str, list[int]] = {}
        for i, name in enumerate(names, start=1):
            seen.setdefault(name, []).append(i)
        dupes = {n: cols for n, cols in seen.items() if len(cols) > 1}
        if dupes:
            detail = "; ".join(f"{n!r} in columns {', '.join(map(str, c))}" for n, c in sorted(dupes.items())[:5])
            raise InputError(f"duplicate column names: {detail}. Column names must be unique.", source, 1)
        _check_present(feature_names, names, "feature columns the model needs", source)
        features = [names.index(f) for f in feature_names]
        default_keep = ["id"] if "id" in names else []
    else:
        if len(first_fields) < n_features:
            raise InputError(f"expected at least {n_features} columns (the model's features, last), "
                             f"found {len(first_fields)}", source, 1)
        names = [f"column_{i}" for i in range(1, len(first_fields) + 1)]
        features = list(range(len(names) - n_features, len(names)))
        default_keep = names[: len(names) - n_features]
    if keep_all:
        keep_names = list(names)
    elif keep is not None:
        _check_present(keep, names, "--keep columns", source)
        keep_names = list(dict.fromkeys(keep))
    else:
        keep_names = default_keep
    clash = [n for n in keep_names if n in OUTPUT_COLUMNS]
    if clash:
        raise InputError(f"kept column {clash[0]!r} has the name of an output column; "
                         f"rename it or leave it out of --keep", source, 1)
    return Layout(source, tuple(names), tuple(features), tuple(names.index(n) for n in keep_names), has_header)


# ----------------------------------------------------------------------------------------------
# Blocks of whole lines


@dataclass(frozen=True)
class Block:
    """Complete CSV records; ``first_line`` is the 1-based file line of the first one."""

    data: bytes
    first_line: int


def _cut(data: bytes, start: int) -> int:
    """End (exclusive) of the first line ending at or after ``start`` that is outside quotes; 0 if none."""
    cut = data.find(b"\n", max(start, 0))
    if b'"' not in data:  # memchr-fast; the common case needs no parity count
        return cut + 1
    quotes = data.count(b'"', 0, cut) if cut != -1 else 0
    while cut != -1:
        if quotes % 2 == 0:  # "" escapes keep the parity, so this is exact
            return cut + 1
        following = data.find(b"\n", cut + 1)
        quotes += data.count(b'"', cut, following) if following != -1 else 0
        cut = following
    return 0


def count_lines(data: bytes) -> int:
    """Newlines in ``data`` (numpy's vectorized compare is ~4x faster than ``bytes.count`` here)."""
    return int(np.count_nonzero(np.frombuffer(data, np.uint8) == 10))


def iter_blocks(source: Source, pending: bytes, first_line: int, target_bytes: int) -> Iterator[Block]:
    """Yield blocks of about ``target_bytes`` (at least one whole record each) from ``pending`` + ``source``.

    Each block is one large read completed by ``readline`` to the end of a record, so the data is
    copied once; memory stays bounded by the block size, whatever the input size.
    """
    line = first_line
    eof = False
    while True:
        parts, size = [pending], len(pending)
        while size < target_bytes and not eof:
            chunk = source.read(min(target_bytes - size, 1 << 24))
            eof = not chunk
            parts.append(chunk)
            size += len(chunk)
        data = b"".join(parts)
        if not data:
            return
        cut = _cut(data, min(target_bytes, len(data)) - 1)
        while cut == 0 and not eof:  # complete the last record (possibly a quoted multi-line field)
            more = source.readline()
            eof = not more
            data += more
            cut = _cut(data, len(data) - len(more) - 1)
        cut = cut or len(data)  # the last record may lack a final newline
        block, pending = (data, b"") if cut == len(data) else (data[:cut], data[cut:])
        yield Block(block, line)
        line += count_lines(block)


# ----------------------------------------------------------------------------------------------
# Parsing a block


@dataclass
class Reject:
    """A bad input row and why."""

    line: int
    column: str | None
    column_number: int | None
    reason: str
    record: str

    def error(self, source: str) -> InputError:
        hint = "Fix the row, or pass --on-error skip to score the other rows and write this one to a rejects file."
        return InputError(self.reason + ".", source, self.line, self.column, self.column_number, hint)


@dataclass
class Parsed:
    """The good rows of a block: the feature matrix (model order) and the pass-through columns."""

    features: np.ndarray
    kept: pl.DataFrame
    rejects: list[Reject] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.features)


def parse_block(block: Block, layout: Layout, stages: Stages = UNTIMED) -> Parsed:
    """Parse with polars straight to float32; any doubt (bad value, ragged row) falls back to the exact
    path, which finds every bad row with its line and column. Both parse numbers with the same parser."""
    parsed = _parse_fast(block.data, layout, stages)
    if parsed is not None:
        return parsed
    with stages("parse_exact"):
        return _parse_exact(block, layout)


def _parse_fast(data: bytes, layout: Layout, stages: Stages = UNTIMED) -> Parsed | None:
    try:
        with stages("parse"):
            frame = pl.read_csv(data, has_header=False, schema=layout.polars_schema, columns=layout.projection,
                                raise_if_empty=False)
    except pl.exceptions.PolarsError:  # any doubt: the exact path decides
        return None
    with stages("convert"):
        x = layout.feature_matrix(frame)
    if layout.doubtful(frame, x):
        return None
    return Parsed(x, layout.kept_columns(frame))


def _records(block: Block, source: str) -> Iterator[tuple[int, list[str]]]:
    """(1-based line, fields) for every non-blank record, with exact lines even across quoted newlines."""
    try:
        text = block.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = block.first_line + block.data.count(b"\n", 0, exc.start)
        raise InputError(f"expected UTF-8 text, found byte 0x{block.data[exc.start]:02x}", source, line) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    consumed = 0
    for fields in reader:
        line, consumed = block.first_line + consumed, reader.line_num
        if fields and fields != [""]:
            yield line, fields


def _record_text(fields: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def _value_problem(text: str, value: float) -> str:
    if text == "":
        return "expected a number, got an empty value"
    if np.isnan(value):
        return f"expected a number, got {text!r}" if text.lower() not in ("nan", "+nan", "-nan") else \
            f"expected a finite number, got NaN ({text!r})"
    return f"expected a finite number, got an infinite value ({text!r})"


def _parse_exact(block: Block, layout: Layout) -> Parsed:
    rejects: list[Reject] = []
    good: list[list[str]] = []
    lines: list[int] = []
    for line, fields in _records(block, layout.source):
        if len(fields) != layout.n_columns:
            what = "as in the header" if layout.has_header else "as in the first line"
            rejects.append(Reject(line, None, None, f"expected {layout.n_columns} fields ({what}), saw {len(fields)}",
                                  _record_text(fields)))
        else:
            good.append(fields)
            lines.append(line)
    texts = [[row[i].strip() for row in good] for i in layout.feature_index]
    x = np.empty((len(good), len(texts)), dtype=np.float32)
    for j, column in enumerate(texts):
        # The same parser as the fast path, so a value parses to the same float32 on either path.
        x[:, j] = pl.Series(column, dtype=pl.String).cast(pl.Float32, strict=False).fill_null(np.nan).to_numpy()
    bad_rows = np.flatnonzero(~np.isfinite(x).all(axis=1)) if x.size else np.array([], dtype=int)
    for r in bad_rows:
        j = int(np.flatnonzero(~np.isfinite(x[r]))[0])
        index = layout.feature_index[j]
        rejects.append(Reject(lines[r], layout.names[index], index + 1, _value_problem(texts[j][r], x[r, j]),
                              _record_text(good[r])))
    ok = np.ones(len(good), dtype=bool)
    ok[bad_rows] = False
    kept = pl.DataFrame({layout.names[i]: [row[i] for row, k in zip(good, ok) if k] for i in layout.keep_index},
                        schema={layout.names[i]: pl.String for i in layout.keep_index})
    rejects.sort(key=lambda r: r.line)
    return Parsed(np.ascontiguousarray(x[ok]), kept, rejects)


# ----------------------------------------------------------------------------------------------
# Output


class AtomicOutput(contextlib.AbstractContextManager):
    """Write to a hidden temporary file beside ``path`` and rename it into place on ``commit()`` only.

    On any error, Ctrl-C or SIGTERM the temporary file is removed, so ``path`` is either absent or
    keeps its previous content. ``-`` writes to stdout, which cannot be atomic. ``.gz``/``.bz2`` compress.
    """

    def __init__(self, path: str | Path) -> None:
        self.name = str(path)
        self._tmp: Path | None = None
        self._committed = False
        if self.name == "-":
            self.handle: IO[bytes] = sys.stdout.buffer
            self._raw = None
            return
        target = Path(path)
        if target.is_dir():
            raise ScoringError(f"Output path {target} is a directory; expected a file path or '-' for stdout.")
        if not target.parent.is_dir():
            raise ScoringError(f"Output directory {target.parent} does not exist; create it or choose another path.")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        except OSError as exc:
            raise ScoringError(f"Cannot write to {target.parent}: {exc.strerror}. Choose another output path.") from None
        self._tmp, self.target = Path(tmp), target
        self._raw = os.fdopen(fd, "wb")
        opener = _OPENERS.get(target.suffix.lower())
        self.handle = opener(self._raw, "wb") if opener else self._raw

    def release(self) -> Path:
        """Close our handle and return the temporary path, for a writer that opens files by name."""
        if self._tmp is None:
            raise ScoringError("Cannot hand stdout to a writer that needs a file path.")
        self.handle.close()
        self._raw.close()
        return self._tmp

    def commit(self) -> None:
        if self._raw is None:
            self.handle.flush()
            return
        if self.handle is not self._raw:
            self.handle.close()
        self._raw.close()
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self._tmp, 0o666 & ~umask)  # mkstemp's 0600 is for the temporary file only
        os.replace(self._tmp, self.target)
        self._committed = True

    def __exit__(self, *exc: object) -> None:
        if self._raw is not None and not self._committed:
            with contextlib.suppress(OSError):
                self.handle.close()
                self._raw.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)


def write_scored(handle: IO[bytes] | str, kept: pl.DataFrame, probability: np.ndarray, label: np.ndarray,
                 header: bool) -> None:
    """Append kept columns, probability (shortest float32 round-trip text) and label as CSV."""
    frame = kept.with_columns(
        pl.Series("probability", probability, dtype=pl.Float32),
        pl.Series("label", label, dtype=pl.Int64),
    )
    frame.write_csv(handle, include_header=header)


def empty_output(layout: Layout) -> pl.DataFrame:
    return pl.DataFrame(schema={n: pl.String for n in layout.keep_names})


REJECT_COLUMNS = ("line", "column", "reason", "record")


def write_rejects(handle: IO[bytes], rejects: list[Reject], header: bool) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    if header:
        writer.writerow(REJECT_COLUMNS)
    for r in rejects:
        writer.writerow([r.line, r.column or "", r.reason, r.record])
    handle.write(text.getvalue().encode())


