"""Reading a user's table (CSV/TSV, .gz/.bz2, Parquet, UCI ``wdbc.data``; a path or URL) with polars."""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from contract.errors import first_line
from contract.text import BOM, SEPARATORS, sniff_separator
from model import wdbc
from model.config import FORMATS
from model.errors import DataError

_DECOMPRESS = {".gz": gzip.decompress, ".bz2": bz2.decompress}


@dataclass(frozen=True)
class Text:
    """A CSV's bytes: in memory (a URL, a compressed file) or a local file read again only when needed."""

    data: bytes | None = None
    path: Path | None = None

    @property
    def source(self) -> bytes | Path:
        """What polars reads: the path itself (memory-mapped, no copy in Python) where there is one."""
        return self.path if self.path is not None else self.data

    def read(self) -> bytes:
        return (self.data if self.data is not None else self.path.read_bytes()).removeprefix(BOM)


@dataclass(frozen=True)
class Table:
    """A table as read, every column by its header name; ``text`` turns rows into file lines on the error path."""

    frame: pl.DataFrame
    source: str
    kind: str
    separator: str | None = None
    text: Text | None = None

    def where(self, row: int) -> str:
        """``source, line N`` for a 0-based data row (``row N`` where the format has no lines)."""
        if self.text is None:
            return f"{self.source}, row {row + 1}"
        line = line_of_row(self.text.read(), row, self.separator or ",", self.kind == "csv")
        return f"{self.source}, line {line}"


def line_of_row(text: bytes, row: int, separator: str, header: bool) -> int:
    """The 1-based line where data row ``row`` starts, exact across quoted newlines (the error path only)."""
    reader = csv.reader(io.StringIO(text.decode("utf-8", "replace"), newline=""), delimiter=separator)
    line = 1
    for index, _ in enumerate(reader):
        if index == row + header:
            return line
        line = reader.line_num + 1
    return line


def read_table(source: str | Path, sep: str | None = None, fmt: str = "auto", na_values: tuple[str, ...] = (),
               decimal: str = ".") -> Table:
    """Read ``source``; the format follows the name (``.parquet``) or the first line (UCI's headerless layout).

    In a CSV, ``na_values`` (and empty fields) are read as missing and ``decimal`` is the decimal mark."""
    name = str(source)
    if fmt not in FORMATS:
        raise DataError(f"--format must be one of {list(FORMATS)}, got {fmt!r}.")
    if sep is not None and sep not in SEPARATORS:
        raise DataError(f"--sep must be one of {[*SEPARATORS]} (tab as '\\t'), got {sep!r}.")
    text = _open(name)
    if fmt == "parquet" or (fmt == "auto" and name.lower().endswith((".parquet", ".pq"))):
        return _read_parquet(name, text.source)
    first = _first_line(text)
    if not first.strip():
        raise DataError(f"{name}, line 1: the file is empty or starts with a blank line; expected a header line "
                        "naming the columns.")
    if fmt == "uci" or (fmt == "auto" and wdbc.looks_like_uci(first.split(","))):
        return Table(_read_uci(name, text, na_values), name, "uci", ",", text)
    separator = sep or sniff_separator(first)
    _check_unique_header(name, first, separator)
    frame = _read_csv(name, text, separator, na_values=na_values, decimal=decimal)
    return Table(_as_written(frame, first, separator), name, "csv", separator, text)


def _as_written(frame: pl.DataFrame, header: str, separator: str) -> pl.DataFrame:
    """The columns named as the CSV standard reads the header (polars keeps a quoted name's doubled quotes:
    ``"x""y"`` stayed ``x""y``, and the scorer, which reads ``x"y``, refused the model's own training file)."""
    names = next(csv.reader([header], delimiter=separator), [])
    if len(names) != frame.width or names == frame.columns or len(set(names)) != len(names):
        return frame
    return frame.rename(dict(zip(frame.columns, names)))


def _open(name: str) -> Text:
    """A local, uncompressed file stays on disk; anything else (a URL, .gz, .bz2, a FIFO) is read into memory. A
    device is refused: /dev/zero would be read until memory runs out."""
    local = Path(name)
    if "://" not in name and (local.is_char_device() or local.is_block_device() or local.is_socket()):
        raise DataError(f"{name} is a device or a socket, not a file: expected a CSV, Parquet or UCI 'wdbc.data' file "
                        "(save the data to a file first).")
    if "://" not in name and local.suffix.lower() not in _DECOMPRESS and local.is_file():
        return Text(path=local)
    return Text(data=_read_bytes(name))


def _first_line(text: Text) -> str:
    if text.path is not None:
        try:
            with open(text.path, "rb") as handle:
                head = handle.readline(1 << 20)
        except OSError as exc:
            raise DataError(f"Could not read {text.path}: {exc.strerror}") from None
    else:
        head = text.data.split(b"\n", 1)[0]
    return head.removeprefix(BOM).rstrip(b"\r\n").decode("utf-8", "replace")


def _read_bytes(name: str) -> bytes:
    try:
        if "://" in name:
            with urllib.request.urlopen(name, timeout=60) as response:
                data = response.read()
        else:
            data = Path(name).read_bytes()
    except FileNotFoundError:
        raise DataError(f"Data file not found: {name}. Pass an existing CSV, Parquet or UCI 'wdbc.data' path or "
                        "URL, or omit --data to use the bundled WDBC copy.") from None
    except IsADirectoryError:
        raise DataError(f"{name} is a directory; expected a CSV or Parquet file.") from None
    except (OSError, urllib.error.URLError, ValueError) as exc:
        raise DataError(f"Could not read {name}: {getattr(exc, 'strerror', None) or exc}") from None
    suffix = Path(name.split("?", 1)[0]).suffix.lower()
    if suffix in _DECOMPRESS:
        try:
            data = _DECOMPRESS[suffix](data)
        except (OSError, EOFError, ValueError) as exc:
            raise DataError(f"Could not decompress {name}: {exc}") from None
    return data


def _read_uci(name: str, text: Text, na_values: tuple[str, ...]) -> pl.DataFrame:
    """UCI's headerless ``wdbc.data``: id, diagnosis, 30 features (values are checked later, with their lines)."""
    frame = _read_csv(name, text, ",", header=False, na_values=na_values)
    if frame.width != len(wdbc.UCI_COLUMNS):
        raise DataError(f"{name}: expected {len(wdbc.UCI_COLUMNS)} fields a line (the UCI 'wdbc.data' layout: id, "
                        f"diagnosis, {len(wdbc.FEATURE_NAMES)} features), got {frame.width}. For a table with a "
                        "header, make its first line name the columns.")
    return frame.rename(dict(zip(frame.columns, wdbc.UCI_COLUMNS)))


def _read_csv(name: str, text: Text, separator: str, header: bool = True, na_values: tuple[str, ...] = (),
              decimal: str = ".") -> pl.DataFrame:
    # Types are inferred from the first 10,000 rows; a value further down that does not fit (a stray 'x' in a
    # numeric column) makes polars refuse, and a second read that looks at every row settles the types.
    for rows in (10_000, None):
        try:
            return pl.read_csv(text.source, separator=separator, has_header=header, infer_schema_length=rows,
                               try_parse_dates=False, null_values=list(na_values) or None,
                               decimal_comma=decimal == ",")
        except pl.exceptions.ComputeError as exc:
            error = exc
        except pl.exceptions.PolarsError as exc:
            error = exc
            break
    ragged = _ragged_record(text.read(), separator)
    if ragged is not None:
        line, expected, saw = ragged
        raise DataError(f"{name}, line {line}: expected {expected} fields (as in the first line), saw {saw}. "
                        f"Fix the row, or check the separator (read with {separator!r}; pass --sep).")
    raise DataError(f"Could not read {name} as CSV with separator {separator!r}: {first_line(error)}")


def _check_unique_header(name: str, header: str, separator: str) -> None:
    """polars renames a repeated column ('a_duplicated_0'); a user's table must say which one it means."""
    fields = next(csv.reader([header], delimiter=separator), [])
    seen: dict[str, list[int]] = {}
    for i, field in enumerate(fields, start=1):
        if field.strip():
            seen.setdefault(field.strip(), []).append(i)
    repeated = {n: c for n, c in seen.items() if len(c) > 1}
    if repeated:
        detail = "; ".join(f"{n!r} in columns {', '.join(map(str, c))}" for n, c in sorted(repeated.items())[:5])
        raise DataError(f"{name}, line 1: duplicate column names: {detail}. Column names must be unique.")


def _ragged_record(text: bytes, separator: str) -> tuple[int, int, int] | None:
    """(line, fields expected, fields seen) of the first non-blank record whose width differs from the header's."""
    reader = csv.reader(io.StringIO(text.decode("utf-8", "replace"), newline=""), delimiter=separator)
    expected, line = None, 1
    for fields in reader:
        if expected is None:
            expected = len(fields)
        elif fields and len(fields) != expected:
            return line, expected, len(fields)
        line = reader.line_num + 1
    return None


def _read_parquet(name: str, source: bytes | Path) -> Table:
    try:
        frame = pl.read_parquet(io.BytesIO(source) if isinstance(source, bytes) else source)
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"Could not read {name} as Parquet: {first_line(exc)}") from None
    return Table(frame, name, "parquet")
