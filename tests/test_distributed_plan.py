"""Tests for scoring.distributed.plan: what the client checks and resolves before any cluster starts."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("distributed")

from scoring.distributed.plan import expand_inputs, plan_job  # noqa: E402
from scoring.errors import InputError, ScoringError  # noqa: E402


def test_inputs_expand_to_sorted_absolute_files(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").mkdir()
    for name in ["b.csv", "a.csv", "c.csv.gz", ".hidden.csv", "_SUCCESS"]:
        (tmp_path / "d" / name).write_text("x\n")
    (tmp_path / "d" / "sub").mkdir()
    (tmp_path / "d" / "sub" / "z.csv").write_text("x\n")
    d = tmp_path / "d"
    assert expand_inputs(["d"], {}) == [str(d / "a.csv"), str(d / "b.csv"), str(d / "c.csv.gz")]
    assert expand_inputs(["d/*.csv", "d/sub/z.csv"], {}) == [str(d / "a.csv"), str(d / "b.csv"), str(d / "sub" / "z.csv")]
    assert expand_inputs([f"file://{d}/b.csv"], {}) == [str(d / "b.csv")]


@pytest.mark.parametrize("pattern", ["none.csv", "d/*.parquet", "empty"])
def test_a_pattern_that_matches_nothing_is_an_error(tmp_path, monkeypatch, pattern: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").mkdir()
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=rf"^{re.escape(pattern)}: no such file; expected CSV or Parquet files, directories or glob"):
        expand_inputs([pattern], {})


def test_plan_refuses_inputs_inside_out_dir_before_touching_it(wdbc_csv, export_dir, tmp_path) -> None:
    out = tmp_path / "out"
    (out / "nested").mkdir(parents=True)
    inside = out / "nested" / "w.csv"
    inside.write_bytes(wdbc_csv.read_bytes())
    with pytest.raises(InputError, match=rf"^{inside}: lies inside OUT_DIR {out}/, where the job writes"):
        plan_job([str(wdbc_csv), str(inside)], str(out), model=export_dir, overwrite=True)
    assert inside.read_bytes() == wdbc_csv.read_bytes()


def test_plan_cuts_blocks_and_touches_no_output(wdbc_csv, export_dir, tmp_path) -> None:
    plan = plan_job([str(wdbc_csv)], str(tmp_path / "out"), model=export_dir, blocksize="16KiB", threshold=0.3)
    assert len(plan.tasks) == -(-wdbc_csv.stat().st_size // (16 << 10)) and plan.files == [str(wdbc_csv)]
    assert plan.options.out_dir == str(tmp_path / "out") and plan.options.score.threshold == 0.3
    assert not (tmp_path / "out").exists()


def test_files_that_give_different_output_columns_are_refused(wdbc_csv, export_dir, tmp_path) -> None:
    other = tmp_path / "noid.csv"
    other.write_bytes(b"\n".join(line.split(b",", 1)[1] for line in wdbc_csv.read_bytes().split(b"\n") if line))
    with pytest.raises(InputError, match=r"noid\.csv, line 1: gives output columns \['probability', 'label'\], but "):
        plan_job([str(wdbc_csv), str(other)], str(tmp_path / "out"), model=export_dir)
    with pytest.raises(ScoringError, match=r"--threshold must be in \[0, 1\], got 2"):
        plan_job([str(wdbc_csv)], str(tmp_path / "out"), model=export_dir, threshold=2)


@pytest.mark.slow
def test_planning_an_onnx_job_never_imports_tensorflow(wdbc_csv, export_dir, tmp_path) -> None:
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys; from scoring.distributed import plan_job; import scoring.distributed.task; "
            f"plan_job([{str(wdbc_csv)!r}], {str(tmp_path / 'out')!r}, model={str(export_dir)!r}); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'model')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_plan_verifies_the_model_before_any_cluster(wdbc_csv, export_dir, other_export_dir, tmp_path) -> None:
    """The same verify-on-load as the single-machine scorer: one run's ONNX beside another run's SavedModel."""
    import shutil

    from contract.errors import ModelError

    mixed = tmp_path / "mixed"
    shutil.copytree(export_dir, mixed)
    shutil.copy(other_export_dir / "model.onnx", mixed / "model.onnx")
    for runtime in ("onnx", "tf"):
        with pytest.raises(ModelError, match="are not from the same export"):
            plan_job([str(wdbc_csv)], str(tmp_path / "out"), model=str(mixed), runtime=runtime)
    assert not (tmp_path / "out").exists()


def test_plan_matches_other_spellings_and_separators(export_dir, tmp_path) -> None:
    """The shared WDBC layouts need no option in the Dask job either (aliases from the model's metadata)."""
    from sklearn.datasets import load_breast_cancer

    path = tmp_path / "sk.csv"
    load_breast_cancer(as_frame=True).frame.to_csv(path, index=False, sep=";")
    plan = plan_job([str(path)], str(tmp_path / "out"), model=str(export_dir))
    assert len(plan.tasks) == 1


def test_parquet_files_are_planned_by_row_group_csv_files_by_byte_range(wdbc_csv, export_dir, tmp_path) -> None:
    import polars as pl

    from scoring.distributed.ranges import RangeTask
    from scoring.distributed.rowgroups import RowGroupTask

    data = tmp_path / "in"
    data.mkdir()
    pl.read_csv(wdbc_csv).write_parquet(data / "a.parquet", row_group_size=100)
    pl.read_csv(wdbc_csv).write_parquet(data / "b.data", row_group_size=300)  # Parquet by --input-format only
    (data / "c.csv").write_bytes(b"".join(wdbc_csv.read_bytes().splitlines(keepends=True)[:20]))  # 4 KB: blocks of 1
    plan = plan_job([str(data / "a.parquet"), str(data / "c.csv")], str(tmp_path / "out"), model=export_dir,
                    blocksize=1)
    assert [type(t) for t in plan.tasks[:6]] == [RowGroupTask] * 6 and isinstance(plan.tasks[6], RangeTask)
    assert [t.first_row for t in plan.tasks[:6]] == [1, 101, 201, 301, 401, 501]
    plan = plan_job([str(data / "b.data")], str(tmp_path / "out"), model=export_dir, input_format="parquet",
                    output_format="parquet")
    assert [t.row_groups for t in plan.tasks] == [(0, 1)] and plan.options.output_format == "parquet"
    with pytest.raises(InputError, match=r"b\.data, line 1: "):  # read as CSV by its name: binary, not a header
        plan_job([str(data / "b.data")], str(tmp_path / "out"), model=export_dir)
    with pytest.raises(ScoringError, match=r"--output-format must be one of \[.*\], got .json."):
        plan_job([str(wdbc_csv)], str(tmp_path / "out"), model=export_dir, output_format="json")
    with pytest.raises(ScoringError, match=r"--input-format must be one of \['auto', 'csv', 'parquet'\], got 'pq'"):
        plan_job([str(wdbc_csv)], str(tmp_path / "out"), model=export_dir, input_format="pq")


def test_parquet_output_needs_the_same_types_from_every_file(wdbc_csv, export_dir, tmp_path) -> None:
    import polars as pl

    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pl.read_csv(wdbc_csv).write_parquet(a)
    pl.read_csv(wdbc_csv).with_columns(pl.col("id").cast(pl.Int32)).write_parquet(b)
    plan_job([str(a), str(b)], str(tmp_path / "out"), model=export_dir)  # CSV parts: the same text
    with pytest.raises(InputError, match=r"^\S+b\.parquet: gives output column types \{id: Int32, probability: Float32, "
                                         r"label: Int64\}, but \S+a\.parquet gives \{id: Int64, "):
        plan_job([str(a), str(b)], str(tmp_path / "out"), model=export_dir, output_format="parquet")
    plan_job([str(a), str(b)], str(tmp_path / "out"), model=export_dir, output_format="parquet", keep=["diagnosis"])


def test_a_blocksize_that_would_make_millions_of_tasks_is_refused(big_csv, export_dir, tmp_path) -> None:
    """Every numeric option is bounded: --blocksize 1 made one task per byte (13 million for this file)."""
    size = big_csv.stat().st_size
    with pytest.raises(InputError, match=rf"big.csv: would be cut into {size:,} blocks of 1 bytes, over the 100,000 one "
                                         r"job may have; pass a larger --blocksize"):
        plan_job([str(big_csv)], str(tmp_path / "out"), model=export_dir, blocksize=1)
    assert len(plan_job([str(big_csv)], str(tmp_path / "out"), model=export_dir, blocksize="1MiB").tasks) == \
        -(-size // (1 << 20))


def test_the_local_cluster_size_is_bounded(wdbc_csv, export_dir, tmp_path, capsys) -> None:
    from scoring.distributed import main
    from scoring.options import usable_cores

    for workers in (0, 4 * usable_cores() + 1, 10**6):
        assert main([str(wdbc_csv), str(tmp_path / "out"), "--model", str(export_dir), "--workers", str(workers)]) == 2
        assert capsys.readouterr().err == (f"ScoringError: --workers must be an integer in [1, {4 * usable_cores()}] "
                                           f"(4 per usable core), got {workers}.\n")
    assert not (tmp_path / "out").exists()
