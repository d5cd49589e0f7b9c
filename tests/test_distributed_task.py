"""Tests for scoring.distributed.task: one block scored on a real worker, published, or refused."""

from __future__ import annotations

import pytest

distributed = pytest.importorskip("distributed")

from contract.artifacts import resolve_model  # noqa: E402
from contract.verify import read_metadata  # noqa: E402
from scoring.distributed.ranges import BlockInputError, plan_file  # noqa: E402
from scoring.distributed.task import JobOptions, ModelPlugin, score_range  # noqa: E402


@pytest.fixture()
def options(dask_client, export_dir, tmp_path) -> JobOptions:
    plugin = ModelPlugin(resolve_model(export_dir, "onnx"))
    dask_client.register_plugin(plugin)
    return JobOptions(str(tmp_path / "out"), {}, plugin.name)


def test_a_block_is_scored_and_published_under_its_part_name(dask_client, options, wdbc_csv, tmp_path) -> None:
    (tmp_path / "out").mkdir()
    tasks, _ = plan_file(str(wdbc_csv), 2, 16 << 10, {})
    result = dask_client.submit(score_range, tasks[1], options, pure=False).result()
    part = tmp_path / "out" / "part-00002-000001.csv"
    lines = part.read_text().splitlines()
    assert lines[0] == "id,probability,label" and result["rows"] == len(lines) - 1 > 0
    assert set(result["seconds"]) == {"stage", "score", "publish"}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [part.name]  # no temporary left


def test_a_block_that_ends_inside_a_quoted_field_is_refused_before_scoring(dask_client, options, wdbc_csv,
                                                                            tmp_path) -> None:
    (tmp_path / "out").mkdir()
    lines = wdbc_csv.read_bytes().split(b"\n")
    lines[3] = b'"3\nand more",' + lines[3].split(b",", 1)[1]
    src = tmp_path / "q.csv"
    src.write_bytes(b"\n".join(lines))
    tasks, _ = plan_file(str(src), 0, src.read_bytes().index(b'"3\n'), {})  # the cut falls after "3
    with pytest.raises(BlockInputError) as caught:
        dask_client.submit(score_range, tasks[0], options, pure=False).result()
    assert caught.value.kind == "quotes" and caught.value.task == tasks[0]
    assert list((tmp_path / "out").iterdir()) == []


def test_a_parquet_block_is_scored_into_a_parquet_part(dask_client, options, wdbc_csv, export_dir, tmp_path) -> None:
    import dataclasses

    import polars as pl

    from scoring.batch import score_csv
    from scoring.distributed.rowgroups import plan_parquet
    from scoring.distributed.task import score_block

    (tmp_path / "out").mkdir()
    src = tmp_path / "w.parquet"
    pl.read_csv(wdbc_csv).write_parquet(src, row_group_size=100)
    tasks, _ = plan_parquet(str(src), 1, 1, read_metadata(resolve_model(export_dir, "onnx")), ["diagnosis"], {})
    as_parquet = dataclasses.replace(options, score=options.score.with_(keep=["diagnosis"]), output_format="parquet")
    result = dask_client.submit(score_block, tasks[2], as_parquet, pure=False).result()
    part = tmp_path / "out" / "part-00001-000002.parquet"
    assert result["rows"] == 100 and sorted(p.name for p in (tmp_path / "out").iterdir()) == [part.name]
    whole = tmp_path / "whole.parquet"
    score_csv(src, whole, model=export_dir, keep=["diagnosis"])
    assert pl.read_parquet(part).equals(pl.read_parquet(whole).slice(200, 100))


def test_a_bad_value_in_a_parquet_block_is_refused_at_its_row_in_the_file(dask_client, options, wdbc_csv, export_dir,
                                                                         tmp_path) -> None:
    import polars as pl

    from scoring.distributed.rowgroups import plan_parquet
    from scoring.distributed.task import score_block
    from scoring.errors import InputError

    (tmp_path / "out").mkdir()
    src = tmp_path / "w.parquet"
    frame = pl.read_csv(wdbc_csv)
    pl.concat([frame, frame]).with_columns(
        pl.when(pl.int_range(pl.len()) == 789).then(float("nan")).otherwise(pl.col("area_mean")).alias("area_mean"),
    ).write_parquet(src, row_group_size=100)
    tasks, _ = plan_parquet(str(src), 0, 1, read_metadata(resolve_model(export_dir, "onnx")), None, {})
    with pytest.raises(InputError) as caught:
        dask_client.submit(score_block, tasks[7], options, pure=False).result()
    assert (caught.value.source, caught.value.line, caught.value.column_number) == (str(src), 790, 6)
    assert list((tmp_path / "out").iterdir()) == []
