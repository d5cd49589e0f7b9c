"""Parsing a block: polars straight to float32, or the exact path that finds every bad row."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from contract.numbers import parse_numbers
from scoring.errors import InputError
from scoring.io.blocks import Block
from scoring.io.layout import Layout, csv_problem
from scoring.timing import UNTIMED, Stages


@dataclass
class Reject:
    """A bad input row and why."""

    line: int
    column: str | None
    column_number: int | None
    reason: str
    record: str
    unit: str = "line"  # "row" for inputs without lines (Parquet)

    def error(self, source: str) -> InputError:
        hint = "Fix the row, or pass --on-error skip to score the other rows and write this one to a rejects file."
        return InputError(self.reason + ".", source, self.line, self.column, self.column_number, hint, self.unit)


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
            frame = pl.read_csv(data, has_header=False, separator=layout.separator, schema=layout.polars_schema,
                                columns=layout.projection, raise_if_empty=False, decimal_comma=layout.decimal_comma)
    except pl.exceptions.PolarsError:  # any doubt: the exact path decides
        return None
    with stages("convert"):
        x = layout.feature_matrix(frame)
    if layout.doubtful(frame, x):
        return None
    return Parsed(x, layout.kept_columns(frame))


def _records(block: Block, source: str, separator: str = ",") -> Iterator[tuple[int, list[str], str]]:
    """(1-based line, fields, the record's text as in the input) for every non-blank record, with exact lines even
    across quoted newlines."""
    try:
        text = block.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = block.first_line + block.data.count(b"\n", 0, exc.start)
        raise InputError(f"expected UTF-8 text, found byte 0x{block.data[exc.start]:02x}", source, line) from None
    # Lines end at "\n" only, as the block's line count has it (a lone "\r" would otherwise count as one).
    reader = csv.reader(io.StringIO(text, newline="\n"), delimiter=separator)
    lines = text.split("\n")  # the exact path only: a record's own text, its separator and quoting, for rejects
    consumed = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputError(csv_problem(exc), source, block.first_line + reader.line_num - 1) from None
        first, consumed = consumed, reader.line_num
        if fields and fields != [""]:
            yield block.first_line + first, fields, "\n".join(lines[first:consumed]).removesuffix("\r")


def _quoted(text: str, limit: int = 40) -> str:
    """A value as a message shows it: a long one is cut (the rejects file keeps the whole record)."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text):,} characters)"


def value_problem(text: str, value: float, missing: bool = False, decimal: str = ".") -> str:
    """Why a feature value that parsed to ``value`` (NaN or infinite) is not a number the model can take."""
    if text == "":
        return "expected a number, got an empty value"
    if missing:
        return f"expected a number, got a missing value ({_quoted(text)})"
    if np.isnan(value) and decimal == "." and "," in text and not np.isnan(_with_decimal_comma(text)):
        return f"expected a number, got {_quoted(text)} (a decimal comma: pass --decimal , to read it as one)"
    if np.isnan(value):
        return f"expected a number, got {_quoted(text)}" if text.lower() not in ("nan", "+nan", "-nan") else \
            f"expected a finite number, got NaN ({text!r})"
    return f"expected a finite number, got an infinite value ({_quoted(text)})"


def parse_float32(texts: list[str], na_values: tuple[str, ...] | list[str] = (), decimal: str = ".",
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Numbers as text to float32, NaN where one is missing or does not parse, and where they are missing: the
    parser of the CSV paths (polars, straight from the decimal text to float32), so a value parses to the same
    float32 everywhere, the server's included."""
    values, missing = parse_numbers(pl.Series(texts, dtype=pl.String), na_values, decimal, pl.Float32)
    return values.fill_null(np.nan).to_numpy(), missing.to_numpy()


def _with_decimal_comma(text: str) -> float:
    """``text`` read with "," as the decimal mark (NaN if it is no number then either): for the message only."""
    value = parse_numbers(pl.Series([text]), (), ",", pl.Float64)[0][0]
    return np.nan if value is None else value


def _parse_exact(block: Block, layout: Layout) -> Parsed:
    rejects: list[Reject] = []
    good: list[list[str]] = []
    lines: list[int] = []
    records: list[str] = []
    for line, fields, record in _records(block, layout.source, layout.separator):
        if layout.n_required <= len(fields) < layout.n_columns:
            fields += [""] * (layout.n_columns - len(fields))  # only unnamed, empty trailing columns are absent
        if len(fields) != layout.n_columns:
            what = "as in the header" if layout.has_header else "as in the first line"
            rejects.append(Reject(line, None, None, f"expected {layout.n_columns} fields ({what}), saw {len(fields)}",
                                  record))
        else:
            good.append(fields)
            lines.append(line)
            records.append(record)
    texts = [[row[i].strip() for row in good] for i in layout.feature_index]
    x = np.empty((len(good), len(texts)), dtype=np.float32)
    missing = np.zeros(x.shape, dtype=bool)
    for j, column in enumerate(texts):
        # The same parser as the fast path (and training's reader), so a value parses to the same float32 on
        # either path; a missing-value spelling is NaN here, and said to be missing.
        values, absent = layout.numbers(pl.Series(column, dtype=pl.String))
        x[:, j] = values.fill_null(np.nan).to_numpy()
        missing[:, j] = absent.to_numpy()
    bad_rows = np.flatnonzero(~np.isfinite(x).all(axis=1)) if x.size else np.array([], dtype=int)
    for r in bad_rows:
        j = int(np.flatnonzero(~np.isfinite(x[r]))[0])
        index = layout.feature_index[j]
        rejects.append(Reject(lines[r], layout.names[index], index + 1,
                              value_problem(texts[j][r], x[r, j], bool(missing[r, j]), layout.decimal), records[r]))
    ok = np.ones(len(good), dtype=bool)
    ok[bad_rows] = False
    kept = pl.DataFrame({layout.names[i]: [row[i] or None for row, k in zip(good, ok) if k] for i in layout.keep_index},
                        schema={layout.names[i]: pl.String for i in layout.keep_index})
    rejects.sort(key=lambda r: r.line)
    return Parsed(np.ascontiguousarray(x[ok]), kept, rejects)
