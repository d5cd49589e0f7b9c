"""Parquet in and out: columns matched by name as for a CSV header, row batches with row numbers, row groups out."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import numpy as np
import polars as pl

from contract.errors import first_line
from contract.metadata import Metadata
from scoring.errors import InputError
from scoring.io.layout import Columns, Layout, resolve_layout
from scoring.io.parsing import Parsed, Reject
from scoring.timing import UNTIMED, Stages

SUFFIXES = (".parquet", ".pq")
#: Every Parquet file we write carries a CRC-32 per data page, and every one we read is checked against them where
#: it has them (a file without them, from another writer, cannot be checked): a data page overwritten on disk is an
#: error naming its row group, not scores of changed values.
WRITE_OPTIONS = {"write_page_checksum": True}
READ_OPTIONS = {"page_checksum_verification": True}


def file_format(path: str | Path, fmt: str = "auto") -> str:
    """``csv`` or ``parquet``: as given, or from the name (``.parquet``, ``.pq``; anything else is CSV)."""
    if fmt != "auto":
        return fmt
    return "parquet" if str(path).lower().endswith(SUFFIXES) else "csv"


def open_parquet(path: str | Path) -> Any:
    """The file's metadata and row groups (pyarrow); a file that is not Parquet is one clear line."""
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(str(path), **READ_OPTIONS)
    except FileNotFoundError:
        raise InputError("file not found; expected a Parquet file", str(path)) from None
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise InputError(f"is not a readable Parquet file: {first_line(exc)}", str(path)) from None


def parquet_layout(parquet: Any, source: str, info: Metadata, columns: Columns) -> Layout:
    """Columns by name from the schema, as for a CSV header; the pass-through columns keep their types."""
    schema = parquet.schema_arrow
    try:
        layout = resolve_layout(list(schema.names), info.feature_names, source, True, columns.keep, columns.keep_all,
                                aliases=info.feature_aliases, rename=columns.rename, na_values=columns.na_values,
                                decimal=columns.decimal, id_columns=columns.id_columns)
    except InputError as exc:  # said of a CSV header, "line 1": a Parquet file's names are in its schema
        raise InputError(exc.reason.replace("the header", "the schema"), source, None, exc.column, exc.column_number,
                         exc.hint, unit="row") from None
    for i in layout.feature_index:
        kind = schema.field(i).type
        if not _numeric_or_text(kind):
            raise InputError(f"has type {kind}; expected numbers.", source, None, layout.read_name(i), i + 1,
                             "Convert the column, or map another one to this feature with --rename.", unit="row")
    dtypes = pl.from_arrow(schema.empty_table()).dtypes
    return replace(layout, kind="parquet", dtypes=tuple(dtypes), file_names=tuple(schema.names))


def _numeric_or_text(kind: Any) -> bool:
    import pyarrow.types as t

    return any(check(kind) for check in (t.is_integer, t.is_floating, t.is_boolean, t.is_decimal, t.is_string,
                                         t.is_large_string, t.is_string_view, t.is_null))


@dataclass(frozen=True)
class RowBatch:
    """Rows of a Parquet file as read (the needed columns only), and the 1-based number of the first one."""

    frame: pl.DataFrame
    first_row: int


def row_batches(parquet: Any, layout: Layout, batch_rows: int) -> Iterator[RowBatch]:
    """The needed columns in batches of at most ``batch_rows`` rows, one row group at a time (a batch never
    spans two, so memory stays bounded by the larger of the two); a damaged row group is an InputError that
    names it and its rows."""
    needed = sorted({*layout.feature_index, *layout.keep_index})
    columns = [layout.read_name(i) for i in needed]
    renamed = {layout.read_name(i): layout.names[i] for i in needed if layout.read_name(i) != layout.names[i]}
    metadata, first_row = parquet.metadata, 1
    for group in range(metadata.num_row_groups):
        start, rows = first_row, metadata.row_group(group).num_rows
        batches = parquet.iter_batches(batch_size=batch_rows, row_groups=[group], columns=columns)
        while True:
            try:
                batch = next(batches, None)
            except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
                where = f"row group {group + 1} of {metadata.num_row_groups} (rows {start:,} to {start + rows - 1:,})"
                raise InputError(f"{where} cannot be read: {first_line(exc)}", layout.source, start, unit="row",
                                 hint="The file is damaged; write it again from its source.") from None
            if batch is None:
                break
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            yield RowBatch(frame.rename(renamed), first_row)
            first_row += frame.height


def check_rows(batch: RowBatch, layout: Layout, stages: Stages = UNTIMED) -> Parsed:
    """The feature matrix (float32, model order) and kept columns of the rows whose features are all finite
    numbers; every other row is a Reject."""
    with stages("convert"):
        return _checked(batch.frame, layout, batch.first_row)


def _checked(frame: pl.DataFrame, layout: Layout, first_row: int) -> Parsed:
    names = [layout.names[i] for i in layout.feature_index]
    # Text columns read as a CSV's would be (missing-value spellings, decimal mark); typed ones are cast.
    columns = [layout.numbers(frame[n])[0] if frame[n].dtype == pl.String else frame[n].cast(pl.Float32, strict=False)
               for n in names]
    x = np.ascontiguousarray(pl.DataFrame(columns).to_numpy() if columns else np.empty((frame.height, 0)),
                             dtype=np.float32).reshape(frame.height, len(names))
    bad = ~np.isfinite(x)
    rows = np.flatnonzero(bad.any(axis=1)) if x.size else np.empty(0, int)
    rejects = [_reject(frame, layout, int(r), int(np.flatnonzero(bad[r])[0]), first_row) for r in rows]
    kept = frame.select([layout.names[i] for i in layout.keep_index])
    if not rejects:
        return Parsed(x, kept)
    ok = np.ones(frame.height, dtype=bool)
    ok[rows] = False
    return Parsed(np.ascontiguousarray(x[ok]), kept.filter(pl.Series(ok)), rejects)


def _reject(frame: pl.DataFrame, layout: Layout, row: int, feature: int, first_row: int) -> Reject:
    index = layout.feature_index[feature]
    name = layout.names[index]
    value = frame[name][row]
    if value is None:
        reason = "expected a number, got no value (null)"
    elif isinstance(value, float) and np.isnan(value):
        reason = "expected a finite number, got NaN"
    elif isinstance(value, (int, float)):
        reason = f"expected a finite number, got {value!r}"
    elif bool(layout.numbers(pl.Series([value], dtype=pl.String))[1][0]):
        reason = f"expected a number, got a missing value ({str(value)[:40]!r})"
    else:
        reason = f"expected a number, got {str(value)[:40]!r}"
    record = json.dumps(frame.row(row, named=True), default=str)
    return Reject(first_row + row, name, index + 1, reason, record, unit="row")


class ParquetWriter:
    """Scored frames appended to a Parquet file as row groups; the schema is fixed by ``schema`` up front, so an
    input with no rows still gives a readable (empty) file."""

    def __init__(self, handle: IO[bytes], schema: dict[str, pl.DataType]) -> None:
        import pyarrow.parquet as pq

        self._schema = pl.DataFrame(schema=schema).to_arrow().schema
        self._writer = pq.ParquetWriter(handle, self._schema, **WRITE_OPTIONS)

    def write(self, frame: pl.DataFrame) -> None:
        self._writer.write_table(frame.to_arrow().cast(self._schema))

    def close(self) -> None:
        self._writer.close()

    def abandon(self) -> None:
        """After a failure: release the writer without a word (the file is discarded; pyarrow would otherwise
        try to finish it when collected, after the file is gone)."""
        with contextlib.suppress(Exception):
            self._writer.close()
