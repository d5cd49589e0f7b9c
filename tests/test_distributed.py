"""Tests for scoring.distributed on a local Dask cluster: same output as the single-machine scorer."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

from benchmarks.datagen import write_csv  # noqa: E402
from scoring.batch import score_csv  # noqa: E402
from scoring.distributed import SUCCESS, main, score_distributed  # noqa: E402
from scoring.errors import InputError, ScoringError  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory) -> Path:
    return write_csv(tmp_path_factory.mktemp("dist") / "big.csv", 60_000, seed=3)


def single_machine(src: Path, tmp_path: Path, export_dir: Path, **kwargs) -> bytes:
    out = tmp_path / f"single-{src.name}"
    score_csv(src, out, model=export_dir, **kwargs)
    return out.read_bytes()


def parts(out_dir: Path) -> list[Path]:
    return sorted(out_dir.glob("part-*.csv"))


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
    lines = big_csv.read_bytes().split(b"\n")
    fields = lines[45_000].split(b",")
    fields[5] = b"oops"
    lines[45_000] = b",".join(fields)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\n".join(lines))
    out = tmp_path / "out"
    with pytest.raises(InputError, match=r"bad.csv, line 45001, column 6 \('smoothness_mean'\): expected a number, got 'oops'\. "
                                         r"Fix the row and run the job again; no _SUCCESS was written\.$"):
        score_distributed([str(bad)], out, client, model=export_dir, blocksize="1MiB")
    assert not (out / SUCCESS).exists()
    for part in parts(out):  # whatever parts exist are complete CSV files
        text = part.read_text()
        assert text.startswith("id,probability,label\n") and text.endswith("\n")


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


def test_non_empty_out_dir_needs_overwrite(client, wdbc_csv, export_dir, tmp_path) -> None:
    out = tmp_path / "out"
    score_distributed([str(wdbc_csv)], out, client, model=export_dir)
    with pytest.raises(ScoringError, match="is not empty; pass --overwrite"):
        score_distributed([str(wdbc_csv)], out, client, model=export_dir)
    score_distributed([str(wdbc_csv)], out, client, model=export_dir, overwrite=True, blocksize="4KiB")
    assert len(parts(out)) > 1 and (out / SUCCESS).is_file()


def test_cli_local_cluster_and_errors(wdbc_csv, export_dir, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert main([str(wdbc_csv), str(out), "--model", str(export_dir), "--workers", "1", "--merge"]) == 0
    err = capsys.readouterr().err
    assert "dashboard: http" in err and "scored 569 rows" in err
    assert (out / "scored.csv").read_bytes() == single_machine(wdbc_csv, tmp_path, export_dir)
    assert main([str(tmp_path / "none-*.csv"), str(tmp_path / "o2"), "--model", str(export_dir), "--workers", "1"]) == 2
    assert "InputError: " in capsys.readouterr().err
