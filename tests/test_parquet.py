"""Tests for scoring.parquet: columns by name from the schema, checked row batches with row numbers, the writer."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

from model.wdbc import ALIASES, FEATURE_NAMES, load_bundled
from scoring.artifacts import ModelInfo
from scoring.errors import InputError
from scoring.layout import Columns
from scoring.parquet import ParquetWriter, file_format, open_parquet, parquet_batches, parquet_layout

NAMES = list(FEATURE_NAMES)
INFO = ModelInfo(NAMES, 0.5, ALIASES)


def write(frame: pl.DataFrame, path: Path, row_group_size: int | None = None) -> Path:
    frame.write_parquet(path, row_group_size=row_group_size)
    return path


def test_format_follows_the_name_unless_told() -> None:
    assert [file_format(p) for p in ("a.parquet", "B.PQ", "c.csv", "d.csv.gz", "-")] == \
        ["parquet", "parquet", "csv", "csv", "csv"]
    assert file_format("data.bin", "parquet") == "parquet" and file_format("x.parquet", "csv") == "csv"


def test_columns_match_by_name_and_kept_columns_keep_their_types(tmp_path: Path) -> None:
    frame = load_bundled().rename({"radius_mean": "Radius Mean"}).select(["diagnosis", *reversed(
        [n if n != "radius_mean" else "Radius Mean" for n in NAMES]), "id"])
    path = write(frame, tmp_path / "t.parquet")
    layout = parquet_layout(open_parquet(path), str(path), INFO, Columns(keep=["id", "diagnosis"]))
    assert [layout.names[i] for i in layout.feature_index][:2] == ["Radius Mean", "texture_mean"]
    assert layout.keep_names == ["id", "diagnosis"] and layout.keep_dtypes == [pl.Int64, pl.String]
    batches = list(parquet_batches(open_parquet(path), layout, batch_rows=100))
    assert [b.rows for b in batches] == [100] * 5 + [69]
    x = np.concatenate([b.features for b in batches])
    want = load_bundled().select(NAMES).to_numpy().astype(np.float32)
    np.testing.assert_array_equal(x, want)
    assert batches[0].kept["id"].to_list()[:3] == [1, 2, 3] and batches[0].features.flags.c_contiguous


@pytest.mark.parametrize(("value", "reason"), [
    (None, r"expected a number, got no value \(null\)"),
    (float("nan"), r"expected a finite number, got NaN"),
    (float("inf"), r"expected a finite number, got inf"),
])
def test_bad_values_are_rejected_with_their_row_and_column(tmp_path: Path, value, reason: str) -> None:
    frame = load_bundled().head(300)
    area = frame["area_mean"].to_list()
    area[250] = value
    path = write(frame.with_columns(pl.Series("area_mean", area, dtype=pl.Float64)), tmp_path / "t.parquet",
                 row_group_size=100)
    layout = parquet_layout(open_parquet(path), str(path), INFO, Columns())
    batches = list(parquet_batches(open_parquet(path), layout, batch_rows=64))
    rejects = [r for b in batches for r in b.rejects]
    assert sum(b.rows for b in batches) == 299 and len(rejects) == 1
    with pytest.raises(InputError, match=rf"t.parquet, row 251, column 6 \('area_mean'\): {reason}\."):
        raise rejects[0].error(str(path))
    assert '"id": 251' in rejects[0].record


def test_text_columns_are_parsed_and_their_bad_values_quoted(tmp_path: Path) -> None:
    frame = load_bundled().head(10).with_columns(pl.col("texture_mean").cast(pl.String))
    texture = frame["texture_mean"].to_list()
    texture[3] = "n/a"
    path = write(frame.with_columns(pl.Series("texture_mean", texture)), tmp_path / "t.parquet")
    layout = parquet_layout(open_parquet(path), str(path), INFO, Columns())
    (batch,) = parquet_batches(open_parquet(path), layout, batch_rows=1000)
    assert batch.rows == 9 and batch.rejects[0].line == 4
    assert batch.rejects[0].reason == "expected a number, got 'n/a'"


def test_a_column_of_another_type_is_refused_by_name(tmp_path: Path) -> None:
    frame = load_bundled().head(5).with_columns(pl.lit([1, 2]).alias("radius_mean"))
    path = write(frame, tmp_path / "t.parquet")
    with pytest.raises(InputError, match=r"t.parquet, column 3 \('radius_mean'\): has type (large_)?list<element: int64>; "
                                         r"expected numbers\. Convert the column"):
        parquet_layout(open_parquet(path), str(path), INFO, Columns())


def test_not_a_parquet_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    path.write_text("id,radius_mean\n")
    with pytest.raises(InputError, match=r"t.parquet: is not a readable Parquet file: "):
        open_parquet(path)
    with pytest.raises(InputError, match=r"nope.parquet: file not found"):
        open_parquet(tmp_path / "nope.parquet")


def test_writer_appends_row_groups_with_a_fixed_schema() -> None:
    handle = io.BytesIO()
    writer = ParquetWriter(handle, {"id": pl.Int64, "probability": pl.Float32, "label": pl.Int64})
    writer.write(pl.DataFrame({"id": [1, 2], "probability": np.array([0.25, 0.75], np.float32), "label": [0, 1]}))
    writer.write(pl.DataFrame({"id": [3], "probability": np.array([0.5], np.float32), "label": [0]}))
    writer.close()
    handle.seek(0)
    table = pq.read_table(handle)
    assert table.num_rows == 3 and pq.ParquetFile(io.BytesIO(handle.getvalue())).num_row_groups == 2
    assert str(table.schema.field("probability").type) == "float"
    empty = io.BytesIO()
    ParquetWriter(empty, {"probability": pl.Float32, "label": pl.Int64}).close()
    assert pq.read_table(io.BytesIO(empty.getvalue())).num_rows == 0
