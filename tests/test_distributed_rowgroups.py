"""Tests for scoring.distributed.rowgroups: Parquet files cut into runs of row groups, checked from the footer,
staged with only their columns."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from contract.metadata import Metadata
from model.wdbc import ALIASES, FEATURE_NAMES
from scoring.distributed.rowgroups import RowGroupTask, group_row_groups, in_file, plan_parquet, stage_row_groups
from scoring.errors import InputError
from tests.expect import says

INFO = Metadata(feature_names=list(FEATURE_NAMES), threshold=0.5, feature_aliases=ALIASES)


@pytest.fixture()
def wdbc_parquet(wdbc_csv: Path, tmp_path: Path) -> Path:
    """569 rows in row groups of 100, behind a column the scorer does not need."""
    path = tmp_path / "w.parquet"
    pl.read_csv(wdbc_csv).select(pl.lit("x").alias("note"), pl.all()).write_parquet(path, row_group_size=100)
    return path


def test_runs_of_consecutive_row_groups_up_to_the_blocksize() -> None:
    assert group_row_groups([5, 3, 9, 2, 2, 20, 1], 10) == [(0, 1), (2,), (3, 4), (5,), (6,)]
    assert group_row_groups([5, 5, 5], 10) == [(0, 1), (2,)]  # a run may fill the block exactly
    assert group_row_groups([5, 5, 5], 1) == [(0,), (1,), (2,)]  # a row group bigger than a block is one
    assert group_row_groups([5, 5, 5], 1 << 30) == [(0, 1, 2)]
    assert group_row_groups([], 10) == [()]  # no row groups: one (empty) block, for the schema


def test_plan_numbers_each_blocks_first_row_and_reads_only_the_needed_columns(wdbc_parquet: Path) -> None:
    meta = pq.ParquetFile(wdbc_parquet).metadata
    size = sum(meta.row_group(0).column(j).total_compressed_size for j in range(meta.num_columns))
    tasks, layout = plan_parquet(str(wdbc_parquet), 3, 2 * size + 1, INFO, None, {})
    assert [t.row_groups for t in tasks] == [(0, 1), (2, 3), (4, 5)]
    assert [t.first_row for t in tasks] == [1, 201, 401] and [t.block_index for t in tasks] == [0, 1, 2]
    assert {t.file_index for t in tasks} == {3} and layout.keep_names == ["id"]
    assert tasks[0].columns == ("id", *FEATURE_NAMES) and tasks[0].column_numbers == (2, *range(4, 34))  # not 3: diagnosis


def test_plan_refuses_what_is_not_parquet_or_lacks_a_feature_in_one_line(wdbc_csv: Path, tmp_path: Path) -> None:
    fake = tmp_path / "fake.parquet"
    fake.write_bytes(wdbc_csv.read_bytes())
    with pytest.raises(InputError, match=rf"^{fake}: is not a readable Parquet file: .*magic") as caught:
        plan_parquet(str(fake), 0, 1 << 20, INFO, None, {})
    assert "\n" not in str(caught.value)
    with pytest.raises(InputError, match=r"missing\.parquet: cannot read: "):
        plan_parquet(str(tmp_path / "missing.parquet"), 0, 1 << 20, INFO, None, {})
    short = tmp_path / "short.parquet"
    pl.read_csv(wdbc_csv).drop("area_mean").write_parquet(short)
    with pytest.raises(InputError, match=r"short\.parquet: missing 1 feature columns the model needs: .area_mean."):
        plan_parquet(str(short), 0, 1 << 20, INFO, None, {})
    typed = tmp_path / "typed.parquet"
    pl.read_csv(wdbc_csv).with_columns(pl.date(2026, 1, 1).alias("area_mean")).write_parquet(typed)
    with pytest.raises(InputError, match=r"typed\.parquet, column 6 \('area_mean'\): has type date32\[day\]; "
                                         r"expected numbers\."):
        plan_parquet(str(typed), 0, 1 << 20, INFO, None, {})


@pytest.mark.parametrize("protocol", ["file", "memory"])
def test_staging_copies_only_the_blocks_row_groups_and_columns_with_their_types(wdbc_parquet: Path, tmp_path: Path,
                                                                              protocol: str) -> None:
    import fsspec

    source = str(wdbc_parquet)
    if protocol == "memory":  # any fsspec store: the file is read through the filesystem's handle
        source = "memory://wdbc-rowgroups/w.parquet"
        fsspec.filesystem("memory").pipe(source, wdbc_parquet.read_bytes())
    tasks, _ = plan_parquet(source, 0, 1, INFO, ["diagnosis", "id"], {})
    assert len(tasks) == 6 and tasks[0].columns[:2] == ("id", "diagnosis")
    staged = tmp_path / "block.parquet"
    stage_row_groups(RowGroupTask(source, 0, 2, (2, 3), 201, tasks[0].columns, tasks[0].column_numbers), staged, {})
    frame = pl.read_parquet(staged)
    want = pl.read_parquet(wdbc_parquet).slice(200, 200).select(tasks[0].columns)
    assert frame.equals(want) and frame.schema == want.schema


def test_an_error_on_the_staged_block_is_placed_in_the_whole_file() -> None:
    task = RowGroupTask("s3://b/w.parquet", 0, 4, (8, 9), 801, ("id", "radius_mean", "area_mean"), (2, 3, 6))
    staged = InputError("expected a finite number, got NaN.", "/tmp/block.parquet", 17, "area_mean", 3,
                        "Fix the row, or pass --on-error skip", unit="row")
    error = in_file(task, staged)
    says(str(error), "s3://b/w.parquet, row 817, column 6 ('area_mean'):", "got NaN", "Fix the row", "no _SUCCESS")
    assert "--on-error skip" not in str(error)  # the single-machine fix does not apply to a job
    assert (error.line, error.column_number, error.unit) == (817, 6, "row")


def test_planning_reads_the_footer_only(wdbc_parquet: Path, tmp_path: Path) -> None:
    """The data pages are the workers' to read: with all of them overwritten the plan is the same."""
    data = bytearray(wdbc_parquet.read_bytes())
    meta = pq.ParquetFile(wdbc_parquet).metadata
    footer = meta.serialized_size + 8  # the footer, its length and the closing magic bytes
    data[4 : len(data) - footer] = b"\xff" * (len(data) - footer - 4)
    wiped = tmp_path / "wiped.parquet"
    wiped.write_bytes(bytes(data))
    before, _ = plan_parquet(str(wdbc_parquet), 0, 1, INFO, None, {})
    after, _ = plan_parquet(str(wiped), 0, 1, INFO, None, {})
    assert [(t.row_groups, t.first_row) for t in after] == [(t.row_groups, t.first_row) for t in before]
    with pytest.raises(OSError):  # the pages really are gone
        pq.read_table(wiped)


def test_a_row_group_is_staged_in_batches_not_whole(wdbc_parquet: Path, tmp_path: Path, monkeypatch) -> None:
    from scoring.distributed import rowgroups

    monkeypatch.setattr(rowgroups, "STAGE_BATCH_ROWS", 30)
    tasks, _ = plan_parquet(str(wdbc_parquet), 0, 1 << 30, INFO, None, {})
    staged = tmp_path / "block.parquet"
    stage_row_groups(tasks[0], staged, {})
    sizes = [pq.ParquetFile(staged).metadata.row_group(i).num_rows
             for i in range(pq.ParquetFile(staged).metadata.num_row_groups)]
    assert max(sizes) <= 30 and sum(sizes) == 569  # each batch written as it was read
    assert pl.read_parquet(staged).equals(pl.read_parquet(wdbc_parquet).select(tasks[0].columns))
