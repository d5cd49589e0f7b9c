"""Blocks of a Parquet input: runs of consecutive row groups up to --blocksize, staged on a worker."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.errors import first_line
from contract.metadata import Metadata
from scoring.distributed.ranges import FIX_ROW
from scoring.distributed.storage import filesystem, storage_errors
from scoring.errors import InputError
from scoring.io.layout import Columns, Layout
from scoring.io.parquet import READ_OPTIONS, WRITE_OPTIONS, parquet_layout

#: Rows per batch while a worker copies its row groups to local disk.
STAGE_BATCH_ROWS = 65_536


@dataclass(frozen=True)
class RowGroupTask:
    """One block of a Parquet file: its row groups ``row_groups`` (consecutive), whose first row is row
    ``first_row`` (1-based) of the whole file; ``columns`` are the ones the scorer needs, read alone, and
    ``column_numbers`` their 1-based places in the file (for error messages)."""

    path: str
    file_index: int
    block_index: int
    row_groups: tuple[int, ...]
    first_row: int
    columns: tuple[str, ...]
    column_numbers: tuple[int, ...]


@contextlib.contextmanager
def open_parquet_url(path: str, options: dict[str, Any]) -> Iterator[Any]:
    """A ``pyarrow.parquet.ParquetFile`` on any fsspec URL (only the footer is read here); a missing or
    unreadable file, or one that is not Parquet, is one clear line."""
    import pyarrow.parquet as pq

    fs, inner = filesystem(path, options)
    try:
        handle = fs.open(inner, "rb")
    except storage_errors() as exc:
        raise InputError(f"cannot read: {exc}", path) from None
    with handle:
        try:
            parquet = pq.ParquetFile(handle, **READ_OPTIONS)
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise InputError(f"is not a readable Parquet file: {first_line(exc)}", path) from None
        yield parquet


def group_row_groups(sizes: list[int], blocksize: int) -> list[tuple[int, ...]]:
    """Runs of consecutive row groups whose sizes add up to at most ``blocksize``; a bigger row group is a
    run of its own. A file without row groups is one empty run (it still gives a part with the schema)."""
    runs: list[tuple[int, ...]] = []
    current: list[int] = []
    total = 0
    for index, size in enumerate(sizes):
        if current and total + size > blocksize:
            runs.append(tuple(current))
            current, total = [], 0
        current.append(index)
        total += size
    if current or not runs:
        runs.append(tuple(current))
    return runs


def plan_parquet(path: str, file_index: int, blocksize: int, info: Metadata, keep: list[str] | None,
                 options: dict[str, Any], rename: dict[str, str] | None = None,
                 keep_all: bool = False) -> tuple[list[RowGroupTask], Layout]:
    """One file's blocks (by the row groups' compressed sizes) and its layout, checked from the footer alone:
    columns by name, feature types."""
    with open_parquet_url(path, options) as parquet:
        layout = parquet_layout(parquet, path, info, Columns(keep=keep, keep_all=keep_all, rename=dict(rename or {}),
                                                             id_columns=tuple(info.id_columns)))
        meta = parquet.metadata
        sizes = [sum(meta.row_group(i).column(j).total_compressed_size for j in range(meta.num_columns))
                 for i in range(meta.num_row_groups)]
        rows = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    needed = sorted({*layout.feature_index, *layout.keep_index})
    columns, numbers = tuple(layout.read_name(i) for i in needed), tuple(i + 1 for i in needed)
    tasks = []
    for block_index, run in enumerate(group_row_groups(sizes, blocksize)):
        first_row = 1 + sum(rows[: run[0]]) if run else 1
        tasks.append(RowGroupTask(path, file_index, block_index, run, first_row, columns, numbers))
    return tasks, layout


def stage_row_groups(task: RowGroupTask, target: Path, options: dict[str, Any]) -> None:
    """Write the block's rows (its columns only, with their types) to a local Parquet file, one row group at
    a time in batches of STAGE_BATCH_ROWS rows, so a large row group never sits in memory whole. A damaged
    row group is one line naming it and its rows in the whole file, as the single-machine scorer says."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    fs, inner = filesystem(task.path, options)
    with fs.open(inner, "rb") as handle:
        parquet = pq.ParquetFile(handle, **READ_OPTIONS)
        schema = pa.schema([parquet.schema_arrow.field(name) for name in task.columns])
        meta, first_row = parquet.metadata, task.first_row
        with pq.ParquetWriter(target, schema, **WRITE_OPTIONS) as writer:
            for group in task.row_groups:
                rows = meta.row_group(group).num_rows
                try:
                    for batch in parquet.iter_batches(STAGE_BATCH_ROWS, row_groups=[group],
                                                      columns=list(task.columns)):
                        writer.write_batch(batch)
                except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
                    where = (f"row group {group + 1} of {meta.num_row_groups} "
                             f"(rows {first_row:,} to {first_row + rows - 1:,})")
                    raise InputError(f"{where} cannot be read: {first_line(exc)}", task.path, first_row, unit="row",
                                     hint="The file is damaged; write it again from its source.") from None
                first_row += rows


def in_file(task: RowGroupTask, error: InputError) -> InputError:
    """The scorer's error on the staged block, placed in the whole file: its row and its column number. (A plain
    InputError reaches the client whole: an exception pickles its attributes with it.)"""
    row = task.first_row + error.line - 1 if error.line is not None else None
    number = task.column_numbers[error.column_number - 1] if error.column_number else None
    return InputError(error.reason, task.path, row, error.column, number, FIX_ROW, unit="row")
