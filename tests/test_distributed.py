"""Tests for scoring.distributed on a local Dask cluster: same output as the single-machine scorer."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

from scoring.batch import score_csv  # noqa: E402
from scoring.distributed import SUCCESS, main, score_distributed  # noqa: E402
from scoring.errors import InputError, ScoringError  # noqa: E402
from tests.expect import error_line, says


@pytest.fixture()
def client(dask_client):
    return dask_client


def single_machine(src: Path, tmp_path: Path, export_dir: Path, **kwargs) -> bytes:
    out = tmp_path / f"single-{src.name}.csv"  # plain CSV even for a .gz input
    score_csv(src, out, model=export_dir, **kwargs)
    return out.read_bytes()


def with_bad_value(data: bytes, line: int, column: int) -> bytes:
    """``data`` with 'oops' in place of the value at the 1-based ``line`` and ``column``."""
    lines = data.split(b"\n")
    fields = lines[line - 1].split(b",")
    fields[column - 1] = b"oops"
    lines[line - 1] = b",".join(fields)
    return b"\n".join(lines)


def parts(out_dir: Path) -> list[Path]:
    return sorted(out_dir.glob("part-*.csv"))


@pytest.mark.slow
def test_one_big_file_in_several_blocks_matches_single_machine(client, big_csv, export_dir, tmp_path) -> None:
    out = tmp_path / "out"
    summary = score_distributed([str(big_csv)], out, client, model=export_dir, blocksize="1MiB", merge=True)
    assert summary.blocks >= 10 and summary.rows == 60_000
    assert (out / SUCCESS).is_file()
    assert (out / "scored.csv").read_bytes() == single_machine(big_csv, tmp_path, export_dir)
    assert len(parts(out)) == summary.blocks
    # Loaded once per worker, used by many blocks.
    counts = client.run(lambda dask_worker: [(p.loads, p.blocks_scored) for n, p in dask_worker.plugins.items()
                                             if n.startswith("wdbc-model")])
    loads = [load for per_worker in counts.values() for load, _ in per_worker]
    blocks = sum(b for per_worker in counts.values() for _, b in per_worker)
    assert set(loads) == {1} and blocks >= summary.blocks


def test_success_comes_last_and_names_the_merged_file(client, wdbc_csv, export_dir, tmp_path, monkeypatch) -> None:
    # _SUCCESS says the output directory is complete: a reader that sees it must find the merged file too
    from scoring.distributed.store import OutputStore

    out = tmp_path / "out"
    score_distributed([str(wdbc_csv)], out, client, model=export_dir, merge=True)
    success = json.loads((out / SUCCESS).read_text())
    assert success["rows"] == 569 and Path(success["merged"]) == out / "scored.csv"

    def full_disk(self, fmt: str, parts: list[str]) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(OutputStore, "merge", full_disk)
    failed = tmp_path / "failed"
    with pytest.raises(OSError, match="No space left"):
        score_distributed([str(wdbc_csv)], failed, client, model=export_dir, merge=True)
    assert parts(failed) and not (failed / SUCCESS).exists() and not (failed / "_RUNNING").exists()


@pytest.mark.slow
def test_several_files_and_globs_keep_input_order(client, wdbc_csv, big_csv, export_dir, tmp_path) -> None:
    data = tmp_path / "in"
    data.mkdir()
    for i in range(3):
        (data / f"wdbc-{i}.csv").write_bytes(wdbc_csv.read_bytes())
    out = tmp_path / "out"
    summary = score_distributed([str(big_csv), str(data / "wdbc-*.csv")], out, client, model=export_dir,
                                blocksize="2MiB", merge=True, runtime="tf")
    assert summary.files == 4 and summary.rows == 60_000 + 3 * 569
    expected = single_machine(big_csv, tmp_path, export_dir, runtime="tf")
    one = single_machine(wdbc_csv, tmp_path, export_dir, runtime="tf")
    body = one.split(b"\n", 1)[1]
    assert (out / "scored.csv").read_bytes() == expected + body * 3


def test_bad_row_names_file_and_line_and_leaves_no_success(client, big_csv, export_dir, tmp_path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(with_bad_value(big_csv.read_bytes(), 45_001, 6))
    out = tmp_path / "out"
    with pytest.raises(InputError) as info:
        score_distributed([str(bad)], out, client, model=export_dir, blocksize="1MiB")
    says(str(info.value), "bad.csv, line 45001, column 6 ('smoothness_mean'):", "'oops'", "no _SUCCESS")
    assert not (out / SUCCESS).exists()
    for part in parts(out):  # whatever parts exist are complete CSV files
        text = part.read_text()
        assert text.startswith("id,probability,label\n") and text.endswith("\n")


@pytest.mark.slow
def test_a_failed_job_reports_its_error_only_after_its_running_blocks_have_stopped(export_dir, big_csv, tmp_path,
                                                                                    monkeypatch) -> None:
    """Cancelling does not stop a block that is already running: the error comes once it has finished, so
    nothing of the job appears in OUT_DIR after the error, and no temporary part is left there."""
    from fsspec.implementations.local import LocalFileSystem

    publish = LocalFileSystem.mv

    def slow_publish(self, path1, path2, **kwargs):  # a slow upload: the temporary part is there meanwhile
        if Path(str(path1)).name.startswith(".part-"):
            time.sleep(1.0)
        return publish(self, path1, path2, **kwargs)

    monkeypatch.setattr(LocalFileSystem, "mv", slow_publish)  # in-process workers: they see the patch
    bad = tmp_path / "bad.csv"
    bad.write_bytes(with_bad_value(big_csv.read_bytes(), 6_001, 6))  # in the second 1 MiB block
    out = tmp_path / "out"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as c:
        with pytest.raises(InputError, match=r"bad.csv, line 6001, column 6 "):
            score_distributed([str(bad)], out, c, model=export_dir, blocksize="1MiB")
        left = sorted(p.name for p in out.iterdir())
        time.sleep(1.5)  # longer than a block's publish: one still running would have changed OUT_DIR by now
        assert sorted(p.name for p in out.iterdir()) == left
    assert not [name for name in left if name.endswith(".tmp")]
    assert SUCCESS not in left


class _Cluster:
    """A client whose workers report the same held keys each time they are asked."""

    def __init__(self, held: dict[str, object]) -> None:
        self.held, self.asked = held, 0

    def run(self, function, prefix: str, on_error: str) -> dict[str, object]:
        self.asked += 1
        return self.held


def test_the_wait_for_running_blocks_is_bounded_and_a_worker_that_cannot_answer_holds_nothing() -> None:
    from scoring.distributed.job import _wait_until_stopped

    busy = _Cluster({"tcp://a": ["wdbc-score-1234abcd-00000-000003"], "tcp://b": OSError("worker gone")})
    started = time.monotonic()
    assert _wait_until_stopped(busy, "wdbc-score-1234abcd-", timeout=0.5) is False  # the error is not held forever
    assert 0.5 <= time.monotonic() - started < 3 and busy.asked > 2
    idle = _Cluster({"tcp://a": [], "tcp://b": OSError("worker gone")})
    assert _wait_until_stopped(idle, "wdbc-score-1234abcd-", timeout=30) is True and idle.asked == 1


@pytest.mark.slow
def test_a_killed_worker_does_not_change_the_output(export_dir, big_csv, tmp_path) -> None:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as c:
        out = tmp_path / "out"
        pids = list(c.run(os.getpid).values())
        done_at_kill: list[int] = []

        def kill_when_started() -> None:
            deadline = time.time() + 60
            while time.time() < deadline and len(parts(out) if out.exists() else []) < 3:
                time.sleep(0.005)
            os.kill(pids[0], signal.SIGKILL)
            done_at_kill.append(len(parts(out)))

        killer = threading.Thread(target=kill_when_started)
        killer.start()
        summary = score_distributed([str(big_csv)], out, c, model=export_dir, blocksize="256KiB", merge=True)
        killer.join()
        assert done_at_kill and done_at_kill[0] < summary.blocks  # killed mid-job
        assert pids[0] not in c.run(os.getpid).values()  # that worker process is gone (replaced)
    assert (out / "scored.csv").read_bytes() == single_machine(big_csv, tmp_path, export_dir)
    assert (out / SUCCESS).is_file()
    assert not list(out.glob(".*.tmp"))  # no stale temporary part of the killed attempt beside _SUCCESS


def two_jobs_at_once(client, inputs: list[list[str]], out_dir: str, **kwargs) -> tuple[list, list[ScoringError]]:
    """Plan one job per entry of ``inputs`` into one OUT_DIR (each passes the client's early check: it is empty),
    then run them at the same moment; their summaries and their ScoringErrors."""
    from scoring.distributed.job import run_job
    from scoring.distributed.plan import plan_job

    plans = [plan_job(files, out_dir, **kwargs) for files in inputs]
    start = threading.Barrier(len(plans))
    done: list = []
    refused: list[ScoringError] = []
    crashed: list[BaseException] = []

    def run(plan) -> None:
        start.wait()
        try:
            done.append((plan, run_job(plan, client, merge=True)))
        except ScoringError as exc:
            refused.append(exc)
        except BaseException as exc:  # anything else fails the test with what it was, not a silent thread
            crashed.append(exc)

    threads = [threading.Thread(target=run, args=(plan,)) for plan in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    assert not crashed and not any(thread.is_alive() for thread in threads), crashed
    return done, refused


@pytest.mark.slow
def test_two_jobs_into_one_empty_out_dir_at_once_one_is_refused_and_the_output_is_the_others(
        client, big_csv, wdbc_csv, export_dir, tmp_path) -> None:
    """The issue's case: both jobs passed the emptiness check, the second one's parts overwrote the first's, and
    _SUCCESS was written over the mix."""
    out = tmp_path / "out"
    done, refused = two_jobs_at_once(client, [[str(big_csv)], [str(wdbc_csv)]], str(out), model=export_dir,
                                     blocksize="1MiB")
    assert len(done) == 1 and len(refused) == 1, (done, refused)
    assert re.search(rf"Output directory {out}/ (is being written by job [0-9a-f]{{8}} \(host|is not empty)",
                     str(refused[0])), refused[0]
    (plan, summary), = done
    winner = Path(plan.files[0])
    assert (out / "scored.csv").read_bytes() == single_machine(winner, tmp_path, export_dir)
    assert sorted(p.name for p in parts(out)) == plan.part_names()
    assert json.loads((out / SUCCESS).read_text())["parts"] == plan.part_names()
    assert not (out / "_RUNNING").exists()


def test_non_empty_out_dir_needs_overwrite(client, wdbc_csv, export_dir, tmp_path) -> None:
    out = tmp_path / "out"
    score_distributed([str(wdbc_csv)], out, client, model=export_dir)
    with pytest.raises(ScoringError, match="is not empty; pass --overwrite"):
        score_distributed([str(wdbc_csv)], out, client, model=export_dir)
    score_distributed([str(wdbc_csv)], out, client, model=export_dir, overwrite=True, blocksize="4KiB")
    assert len(parts(out)) > 1 and (out / SUCCESS).is_file()


@pytest.mark.slow
def test_cli_local_cluster_and_errors(wdbc_csv, export_dir, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert main([str(wdbc_csv), str(out), "--model", str(export_dir), "--workers", "1", "--merge"]) == 0
    err = capsys.readouterr().err
    assert "dashboard: http" in err and "scored 569 rows" in err
    assert (out / "scored.csv").read_bytes() == single_machine(wdbc_csv, tmp_path, export_dir)
    assert main([str(tmp_path / "none-*.csv"), str(tmp_path / "o2"), "--model", str(export_dir), "--workers", "1"]) == 2
    assert "InputError: " in capsys.readouterr().err


def test_inputs_inside_out_dir_are_refused_and_never_touched(client, wdbc_csv, export_dir, tmp_path, capsys) -> None:
    """The data-loss case: `'dir/part-*.csv' dir --overwrite` used to delete its own inputs."""
    data = tmp_path / "dir"
    data.mkdir()
    names = ["part-00000-000000.csv", "scored.csv", "other.csv"]
    for name in names:
        (data / name).write_bytes(wdbc_csv.read_bytes())
    before = {name: (data / name).read_bytes() for name in names}
    for pattern in [str(data / "part-*.csv"), str(data / "other.csv"), str(data)]:
        code = main([pattern, str(data), "--model", str(export_dir), "--overwrite", "--scheduler",
                     client.scheduler.address])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1
        assert err.startswith("InputError: ") and f"lies inside OUT_DIR {data}/" in err
    assert {name: (data / name).read_bytes() for name in os.listdir(data)} == before


def test_compressed_inputs_are_one_block_each_with_the_single_machine_output(client, wdbc_csv, export_dir,
                                                                              tmp_path) -> None:
    import bz2
    import gzip

    data = tmp_path / "in"
    data.mkdir()
    (data / "a.csv.gz").write_bytes(gzip.compress(wdbc_csv.read_bytes()))
    (data / "b.csv.bz2").write_bytes(bz2.compress(wdbc_csv.read_bytes()))
    (data / "c.csv").write_bytes(wdbc_csv.read_bytes())
    out = tmp_path / "out"
    summary = score_distributed([str(data)], out, client, model=export_dir, blocksize="16KiB", merge=True)
    plain_blocks = -(-wdbc_csv.stat().st_size // (16 << 10))
    assert summary.files == 3 and summary.blocks == 1 + 1 + plain_blocks
    for name in ("a.csv.gz", "b.csv.bz2"):  # the single-machine scorer reads .gz/.bz2 itself
        one_block = sorted(out.glob(f"part-0000{'ab'.index(name[0])}-*.csv"))
        assert len(one_block) == 1
        assert one_block[0].read_bytes() == single_machine(data / name, tmp_path, export_dir)
    body = single_machine(wdbc_csv, tmp_path, export_dir).split(b"\n", 1)[1]
    assert (out / "scored.csv").read_bytes() == single_machine(wdbc_csv, tmp_path, export_dir) + body * 2


def test_a_bad_row_in_a_compressed_file_names_its_line(client, wdbc_csv, export_dir, tmp_path) -> None:
    import gzip

    bad = tmp_path / "bad.csv.gz"
    bad.write_bytes(gzip.compress(with_bad_value(wdbc_csv.read_bytes(), 301, 6)))
    with pytest.raises(InputError) as info:
        score_distributed([str(bad)], tmp_path / "out", client, model=export_dir)
    says(str(info.value), "bad.csv.gz, line 301, column 6 ('area_mean'):", "'oops'", "no _SUCCESS")
    assert not (tmp_path / "out" / SUCCESS).exists()


def test_relative_paths_are_resolved_on_the_client(client, wdbc_csv, export_dir, tmp_path, monkeypatch,
                                                   capsys) -> None:
    """The workers run elsewhere (here: in the directory pytest started in), so relative paths must not reach them."""
    monkeypatch.chdir(tmp_path)
    Path("in").mkdir()
    Path("in/w.csv").write_bytes(wdbc_csv.read_bytes())
    code = main(["in/w.csv", "out", "--model", str(export_dir), "--scheduler", client.scheduler.address, "--merge"])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "out" / "scored.csv").read_bytes() == single_machine(wdbc_csv, tmp_path, export_dir)


def test_closing_line_names_the_merged_file(client, wdbc_csv, export_dir, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    args = [str(wdbc_csv), str(out), "--model", str(export_dir), "--scheduler", client.scheduler.address]
    assert main([*args, "--merge"]) == 0
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("scored 569 rows") and last.endswith(f"-> {out}/scored.csv (and 1 part file beside it)")
    assert main([*args, "--overwrite"]) == 0
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(f"-> {out}/")


def test_a_quoted_newline_across_a_block_boundary_is_reported_where_the_field_starts(client, wdbc_csv, export_dir,
                                                                                      tmp_path) -> None:
    lines = wdbc_csv.read_bytes().split(b"\n")
    lines[200] = b'"200\nsecond half",' + lines[200].split(b",", 1)[1]  # a quoted id with a line break, line 201
    src = tmp_path / "quoted.csv"
    src.write_bytes(b"\n".join(lines))
    # The single-machine scorer reads it (the id passes through with its line break)...
    assert single_machine(src, tmp_path, export_dir).count(b"second half") == 1
    # ...the Dask job cuts a block right inside that field, and says so, at the field's first line.
    blocksize = src.read_bytes().index(b'"200\n')
    with pytest.raises(InputError, match=r"quoted\.csv, line 201: a quoted field starts on this line and runs past a "
                                         r"line end where the job cuts its blocks.*python -m scoring\.batch"):
        score_distributed([str(src)], tmp_path / "out", client, model=export_dir, blocksize=blocksize)
    assert not (tmp_path / "out" / SUCCESS).exists()


def test_everything_is_checked_before_a_cluster_starts(wdbc_csv, export_dir, tmp_path, monkeypatch, capsys) -> None:
    def no_cluster(*args, **kwargs):
        raise AssertionError("a cluster was started before the job was checked")

    monkeypatch.setattr(distributed, "LocalCluster", no_cluster)
    monkeypatch.setattr(distributed, "Client", no_cluster)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "old.csv").write_text("x")
    bad_columns = tmp_path / "cols.csv"
    bad_columns.write_text("id,radius_mean\n1,2\n")
    not_parquet = tmp_path / "fake.parquet"
    not_parquet.write_bytes(wdbc_csv.read_bytes())
    short_parquet = tmp_path / "short.parquet"
    import polars as pl

    pl.read_csv(wdbc_csv).drop("texture_mean").write_parquet(short_parquet)
    model = ["--model", str(export_dir)]
    cases = {
        "ModelError: No model at": [str(wdbc_csv), str(tmp_path / "o"), "--model", str(tmp_path / "nope")],
        "ScoringError: Output directory": [str(wdbc_csv), str(busy), *model],
        "InputError: ": [str(tmp_path / "missing.csv"), str(tmp_path / "o"), *model],
        "InputError: " + str(bad_columns): [str(bad_columns), str(tmp_path / "o"), *model],
        f"InputError: {not_parquet}: is not a readable Parquet file": [str(not_parquet), str(tmp_path / "o"), *model],
        f"InputError: {short_parquet}": [str(short_parquet), str(tmp_path / "o"), *model],
        "ScoringError: --blocksize": [str(wdbc_csv), str(tmp_path / "o"), *model, "--blocksize", "lots"],
        "ScoringError: --workers": [str(wdbc_csv), str(tmp_path / "o"), *model, "--workers", "0"],
        "ScoringError: --storage-option": [str(wdbc_csv), str(tmp_path / "o"), *model, "--storage-option", "x"],
    }
    for start, argv in cases.items():
        assert main(argv) == 2, start
        err = capsys.readouterr().err
        assert err.startswith(start) and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()


def test_own_layouts_score_as_on_one_machine(client, export_dir, tmp_path) -> None:
    """scikit-learn's column names, ';'-separated and without an id: matched by the model's aliases on every
    worker, split over several blocks, byte-identical to the single-machine scorer."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    src = tmp_path / "sk.csv"
    frame.sample(n=3000, replace=True, random_state=0).to_csv(src, index=False, sep=";")
    out = tmp_path / "out"
    summary = score_distributed([str(src)], out, client, model=export_dir, blocksize="64KiB", merge=True)
    assert summary.blocks > 5 and summary.rows == 3000
    assert (out / "scored.csv").read_bytes() == single_machine(src, tmp_path, export_dir)



@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_rename_maps_the_users_names_on_every_worker(client, export_dir, tmp_path, fmt: str) -> None:
    """Two features under names no alias knows, one renamed column the model does not need: --rename works on
    every block of a CSV and of a Parquet file as on one machine (where a Parquet block stages only the columns
    it needs)."""
    import polars as pl

    from model.wdbc import load_bundled

    frame = load_bundled().rename({"radius_mean": "R1", "texture_largest": "T3", "diagnosis": "dx"})
    frame = pl.concat([frame] * 6)
    src = tmp_path / f"own.{fmt}"
    frame.write_csv(src) if fmt == "csv" else frame.write_parquet(src, row_group_size=500)
    rename = {"R1": "radius_mean", "T3": "texture_largest", "dx": "diagnosis_code"}
    out = tmp_path / "out"
    summary = score_distributed([str(src)], out, client, model=export_dir, blocksize="64KiB", merge=True,
                                rename=rename, keep=["id", "diagnosis_code"])
    assert summary.blocks > 2 and summary.rows == frame.height
    expected = single_machine(src, tmp_path, export_dir, rename=rename, keep=["id", "diagnosis_code"])
    assert (out / "scored.csv").read_bytes() == expected
    assert expected.startswith(b"id,diagnosis_code,probability,label\n")
    with pytest.raises(InputError, match="missing 2 feature columns"):
        score_distributed([str(src)], tmp_path / "no-rename", client, model=export_dir)


@pytest.mark.slow
def test_cli_rename_options(client, export_dir, tmp_path, capsys) -> None:
    import polars as pl

    from model.wdbc import load_bundled

    src = tmp_path / "own.parquet"
    load_bundled().rename({"radius_mean": "R1"}).write_parquet(src)
    renames = tmp_path / "renames.json"
    renames.write_text('{"R1": "radius_mean"}')
    for options in (["--rename", "R1=radius_mean"], ["--rename-file", str(renames)]):
        out = tmp_path / f"out{len(options[1])}"
        assert main([str(src), str(out), "--model", str(export_dir), "--quiet", *options]) == 0
        assert pl.read_csv(out / "part-00000-000000.csv").height == 569
    assert main([str(src), str(tmp_path / "x"), "--model", str(export_dir), "--rename", "R9=radius_mean"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"InputError: {src}: --rename names 'R9', which the schema does not have.") and \
        err.count("\n") == 1, err


# Parquet inputs: split by row group, scored by the same single-machine scorer.

def as_parquet(frame, path: Path, row_group_size: int) -> Path:
    frame.write_parquet(path, row_group_size=row_group_size)
    return path


@pytest.fixture(scope="module")
def big_parquet(big_csv, tmp_path_factory) -> Path:
    """The 60,000 rows of ``big_csv`` in 12 row groups of 5,000, behind an extra column the job does not read,
    with a text and a date column to pass through."""
    import polars as pl

    frame = pl.read_csv(big_csv)
    frame = frame.select(pl.lit("skip me").alias("note"), pl.all()).with_columns(
        (pl.lit("site-") + (pl.col("id") % 7).cast(pl.String)).alias("site"),
        (pl.date(2026, 1, 1) + pl.duration(days=pl.col("id") % 300)).alias("day"))
    return as_parquet(frame, tmp_path_factory.mktemp("pq") / "big.parquet", row_group_size=5_000)


def row_group_sizes(path: Path) -> list[int]:
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    return [sum(meta.row_group(i).column(j).total_compressed_size for j in range(meta.num_columns))
            for i in range(meta.num_row_groups)]


def test_parquet_in_csv_parts_equal_the_single_machine_csv_output(client, big_csv, big_parquet, export_dir,
                                                                  tmp_path) -> None:
    sizes = row_group_sizes(big_parquet)
    assert len(sizes) == 12
    out = tmp_path / "out"
    # Room for three row groups but not four: four blocks of 15,000 rows.
    summary = score_distributed([str(big_parquet)], out, client, model=export_dir, blocksize=sum(sizes[:3]) + 1,
                                merge=True)
    assert summary.blocks == 4 and summary.rows == 60_000 and (out / SUCCESS).is_file()
    expected = single_machine(big_csv, tmp_path, export_dir)  # the CSV of the same rows, scored on one machine
    assert [p.name for p in parts(out)] == [f"part-00000-{i:06d}.csv" for i in range(4)]
    bodies = [p.read_bytes().split(b"\n", 1) for p in parts(out)]
    assert all(b[1].count(b"\n") == 15_000 for b in bodies)
    assert bodies[0][0] + b"\n" + b"".join(b[1] for b in bodies) == expected
    assert (out / "scored.csv").read_bytes() == expected


@pytest.mark.slow
def test_parquet_in_parquet_parts_and_merge_equal_the_single_machine_parquet_output(client, runtime_name, big_parquet,
                                                                                   export_dir, tmp_path) -> None:
    import polars as pl
    import pyarrow.parquet as pq

    keep = ["day", "id", "site"]
    single = tmp_path / "single.parquet"
    score_csv(big_parquet, single, model=export_dir, runtime=runtime_name, keep=keep)
    out = tmp_path / "out"
    summary = score_distributed([str(big_parquet)], out, client, model=export_dir, runtime=runtime_name, keep=keep,
                                blocksize=sum(row_group_sizes(big_parquet)[:5]), merge=True, output_format="parquet")
    names = sorted(p.name for p in out.glob("part-*"))
    assert summary.blocks == len(names) >= 3 and names[0] == "part-00000-000000.parquet"
    want = pl.read_parquet(single)
    assert want.schema == {"day": pl.Date, "id": pl.Int64, "site": pl.String, "probability": pl.Float32,
                           "label": pl.Int64}
    merged = pl.read_parquet(out / "scored.parquet")
    assert merged.schema == want.schema and merged.equals(want)
    assert pl.concat([pl.read_parquet(out / n) for n in names]).equals(want)  # each part in order
    groups = sum(pq.ParquetFile(out / n).metadata.num_row_groups for n in names)
    assert pq.ParquetFile(out / "scored.parquet").metadata.num_row_groups == groups  # appended, not rewritten
    assert summary.line().endswith(f"-> {out}/scored.parquet (and {summary.blocks} part files beside it)")


@pytest.mark.parametrize(("value", "reason"), [
    (None, "expected a number, got no value (null)"),
    (float("nan"), r"expected a finite number, got NaN"),
    (float("-inf"), r"expected a finite number, got -inf"),
    ("oops", r"expected a number, got 'oops'"),
])
def test_a_bad_value_in_a_late_row_group_names_its_row_in_the_whole_file(client, wdbc_csv, export_dir, tmp_path,
                                                                         value, reason) -> None:
    import polars as pl

    frame = pl.read_csv(wdbc_csv).select(pl.lit("skip me").alias("note"), pl.all())  # area_mean: column 7 here
    area = frame["area_mean"].cast(pl.String if isinstance(value, str) else pl.Float64).to_list()
    area[500] = value  # row 501, in row group 11 of 12
    bad = as_parquet(frame.with_columns(pl.Series("area_mean", area)), tmp_path / "bad.parquet", row_group_size=50)
    out = tmp_path / "out"
    with pytest.raises(InputError) as caught:
        score_distributed([str(bad)], out, client, model=export_dir, blocksize=1)  # a task per row group
    says(str(caught.value), f"{bad}, row 501, column 7 ('area_mean'):", reason, "no _SUCCESS")
    assert caught.value.line == 501 and caught.value.unit == "row"
    assert not (out / SUCCESS).exists()


def test_cli_parquet_out_merged_and_one_line_errors(client, wdbc_csv, export_dir, tmp_path, capsys) -> None:
    import polars as pl

    src = as_parquet(pl.read_csv(wdbc_csv), tmp_path / "w.pq", row_group_size=200)
    out = tmp_path / "out"
    args = ["--model", str(export_dir), "--scheduler", client.scheduler.address]
    assert main([str(src), str(out), *args, "--output-format", "parquet", "--merge", "--blocksize", "1"]) == 0
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(f"-> {out}/scored.parquet (and 3 part files "
                                                                    "beside it)")
    single = tmp_path / "single.parquet"
    score_csv(src, single, model=export_dir)
    assert pl.read_parquet(out / "scored.parquet").equals(pl.read_parquet(single))
    nulls = as_parquet(pl.read_csv(wdbc_csv).with_columns(
        pl.when(pl.col("id") == 430).then(None).otherwise(pl.col("radius_mean")).alias("radius_mean")),
        tmp_path / "nulls.parquet", row_group_size=200)
    assert main([str(nulls), str(tmp_path / "o2"), *args, "--blocksize", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    error_line(err, "InputError", f"{nulls}, row 430, column 3 ('radius_mean')", "got no value (null)", "Fix the row",
               "no _SUCCESS")
    assert not (tmp_path / "o2" / SUCCESS).exists()


def test_csv_and_parquet_inputs_in_one_job(client, wdbc_csv, export_dir, tmp_path, capsys) -> None:
    """Allowed where the output is the same: CSV parts (pass-through columns are text there). A Parquet output
    needs one schema, and a CSV's id is text while the Parquet file's is an integer: refused before any work."""
    import polars as pl

    src = as_parquet(pl.read_csv(wdbc_csv), tmp_path / "w.parquet", row_group_size=100)
    out = tmp_path / "out"
    summary = score_distributed([str(src), str(wdbc_csv)], out, client, model=export_dir, merge=True)
    assert summary.files == 2 and summary.blocks == 2
    one = single_machine(wdbc_csv, tmp_path, export_dir)
    assert (out / "scored.csv").read_bytes() == one + one.split(b"\n", 1)[1]
    code = main([str(wdbc_csv), str(src), str(tmp_path / "o2"), "--model", str(export_dir), "--output-format",
                 "parquet", "--scheduler", client.scheduler.address])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"InputError: {src}: gives output column types {{id: Int64, probability: Float32, label: "
                          f"Int64}}, but {wdbc_csv} gives {{id: String, ")
    assert "--output-format csv" in err and not (tmp_path / "o2").exists()


def test_a_parquet_file_without_rows_gives_an_empty_part_with_the_schema(client, wdbc_csv, export_dir,
                                                                        tmp_path) -> None:
    import polars as pl
    import pyarrow.parquet as pq

    frame = pl.read_csv(wdbc_csv)
    empty = tmp_path / "in" / "a-empty.parquet"
    empty.parent.mkdir()
    pq.ParquetWriter(empty, frame.to_arrow().schema).close()  # a footer and no row group at all
    assert pq.ParquetFile(empty).metadata.num_row_groups == 0
    full = as_parquet(frame, tmp_path / "in" / "b.parquet", row_group_size=300)
    out = tmp_path / "out"
    summary = score_distributed([str(tmp_path / "in")], out, client, model=export_dir, merge=True,
                                output_format="parquet", keep=["diagnosis", "id"])
    assert summary.blocks == 2 and summary.rows == 569
    part = pl.read_parquet(out / "part-00000-000000.parquet")
    assert part.height == 0 and part.schema == {"diagnosis": pl.String, "id": pl.Int64, "probability": pl.Float32,
                                                "label": pl.Int64}
    single = tmp_path / "single.parquet"
    score_csv(full, single, model=export_dir, keep=["diagnosis", "id"])
    assert pl.read_parquet(out / "scored.parquet").equals(pl.read_parquet(single))


def test_a_damaged_row_group_stops_the_job_with_one_line_naming_it(client, wdbc_csv, export_dir, tmp_path,
                                                                  capsys) -> None:
    import polars as pl
    import pyarrow.parquet as pq

    good = as_parquet(pl.read_csv(wdbc_csv), tmp_path / "good.parquet", row_group_size=100)
    data = bytearray(good.read_bytes())
    start = pq.ParquetFile(good).metadata.row_group(4).column(5).data_page_offset
    data[start:start + 200] = b"\x55" * 200  # the fifth row group's sixth column chunk, overwritten
    damaged = tmp_path / "damaged.parquet"
    damaged.write_bytes(bytes(data))
    out = tmp_path / "out"
    code = main([str(damaged), str(out), "--model", str(export_dir), "--scheduler", client.scheduler.address,
                 "--blocksize", str(3 * good.stat().st_size // 6), "--quiet"])  # blocks of a few row groups
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert re.match(rf"InputError: {damaged}, row 401: row group 5 of 6 \(rows 401 to 500\) cannot be read: .* "
                    r"The file is damaged; write it again from its source\.$", err.strip()), err
    assert not (out / SUCCESS).exists()


def test_an_mlp_export_runs_with_no_new_flag_and_gives_the_single_machines_bytes(client, big_csv, mlp_export_dir,
                                                                                  tmp_path) -> None:
    out = tmp_path / "out"
    summary = score_distributed([str(big_csv)], out, client, model=mlp_export_dir, blocksize="1MiB", merge=True)
    assert summary.blocks >= 10 and summary.rows == 60_000
    assert (out / "scored.csv").read_bytes() == single_machine(big_csv, tmp_path, mlp_export_dir)


def test_an_mlp_on_tensorflow_agrees_with_the_single_machine_to_float32_rounding(client, big_csv, mlp_export_dir,
                                                                                 tmp_path) -> None:
    """TensorFlow's float32 matrix product rounds a row by its place in the batch, and Dask's blocks batch rows
    differently: the same labels, probabilities within the export's float32 parity tolerance (docs/export.md)."""
    import numpy as np
    import pandas as pd

    out = tmp_path / "out"
    score_distributed([str(big_csv)], out, client, model=mlp_export_dir, blocksize="1MiB", merge=True, runtime="tf")
    single = tmp_path / "single.csv"
    single.write_bytes(single_machine(big_csv, tmp_path, mlp_export_dir, runtime="tf"))
    a, b = (pd.read_csv(p, dtype={"probability": np.float32}) for p in (out / "scored.csv", single))
    assert a["id"].tolist() == b["id"].tolist() and a["label"].tolist() == b["label"].tolist()
    assert np.max(np.abs(a["probability"].to_numpy(np.float64) - b["probability"].to_numpy())) <= 1e-6


@pytest.mark.slow
def test_an_onnx_model_with_external_weights_travels_with_its_weights(client, wdbc_csv, export_dir, tmp_path) -> None:
    """The issue's case: a model whose weights live in a file beside it scored on one machine, but failed on the Dask
    workers (only model.onnx was shipped) after the client's checks had passed."""
    import onnx

    folder = tmp_path / "external"
    folder.mkdir()
    model = onnx.load(str(export_dir / "model.onnx"))
    onnx.save_model(model, str(folder / "model.onnx"), save_as_external_data=True, location="weights.bin",
                    size_threshold=100)  # the 30 weights go out, the scalar threshold stays in the graph
    assert (folder / "weights.bin").is_file()
    out = tmp_path / "out"
    score_distributed([str(wdbc_csv)], out, client, model=folder / "model.onnx", merge=True)
    assert (out / "scored.csv").read_bytes() == single_machine(wdbc_csv, tmp_path, folder / "model.onnx")
    assert (out / "scored.csv").read_bytes() == single_machine(wdbc_csv, tmp_path, export_dir)


@pytest.mark.parametrize("after", [1, 3, "all"])
def test_a_stop_asked_between_blocks_ends_the_job_without_success(client, big_csv, export_dir, tmp_path,
                                                                   after: int | str) -> None:
    """``check_stop`` raising (a signal whose own KeyboardInterrupt a finalizer swallowed) stops the job as Ctrl-C
    does: no _SUCCESS, no merged file, no temporaries, OUT_DIR free for the next job."""
    from scoring.distributed.job import run_job
    from scoring.distributed.plan import plan_job

    out = tmp_path / "out"
    plan = plan_job([str(big_csv)], str(out), model=export_dir, blocksize="256KiB")
    calls = []
    stop_at = len(plan.tasks) + 1 if after == "all" else after  # "all": after the last block, before the merge

    def check_stop() -> None:
        calls.append(1)
        if len(calls) >= stop_at:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_job(plan, client, merge=True, check_stop=check_stop)
    assert len(calls) == stop_at
    assert not (out / "_SUCCESS").exists() and not (out / "scored.csv").exists()
    assert not list(out.glob(".*.tmp")) and not (out / "_RUNNING").exists()
    parts = len(list(out.glob("part-*.csv")))
    assert (parts == len(plan.tasks)) if after == "all" else (parts < len(plan.tasks))
