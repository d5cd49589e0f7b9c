"""The Dask job against a real S3 API: moto's standalone server on 127.0.0.1, inputs and OUT_DIR in a bucket."""

from __future__ import annotations

import gzip
import logging
import os
import re
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")
s3fs = pytest.importorskip("s3fs", reason="the s3 extra is not installed: pip install -e '.[s3]'")

from scoring.batch import score_csv  # noqa: E402
from scoring.distributed import SUCCESS, main, score_distributed  # noqa: E402
from scoring.errors import InputError, ScoringError  # noqa: E402
from tests.expect import error_line  # noqa: E402
from tests.test_distributed import single_machine, two_jobs_at_once, with_bad_value  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3-compatible server in this process, on a free port of 127.0.0.1 (workers reach it over HTTP)."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        pytest.skip(f"moto's server cannot start: {exc} (pip install -e '.[test]' installs moto[server])")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    try:
        server.start()
    except Exception as exc:  # noqa: BLE001 - any failure to bind or start is a reason to skip, stated
        pytest.skip(f"moto's S3 server could not start on 127.0.0.1:{port}: {exc}")
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="module")
def storage_options(s3_endpoint) -> dict:
    return {"endpoint_url": s3_endpoint, "key": "testing", "secret": "testing"}


@pytest.fixture()
def bucket(storage_options):
    """A fresh bucket per test, and the filesystem to inspect it with."""
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **storage_options)
    name = f"test-{uuid.uuid4().hex[:12]}"
    fs.mkdir(name)
    return name, fs


@pytest.fixture(autouse=True)
def in_empty_directory(tmp_path, monkeypatch) -> Path:
    """Every test runs in an empty directory, so a local path named after a URL (``s3:``) would show up."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    yield cwd
    assert os.listdir(cwd) == [], os.listdir(cwd)


def listing(fs, prefix: str) -> list[str]:
    fs.invalidate_cache()
    return sorted(p.removeprefix(prefix) for p in fs.find(prefix))


@pytest.mark.slow
def test_s3_in_s3_out_matches_the_single_machine_scorer(dask_client, bucket, storage_options, big_csv, export_dir,
                                                        tmp_path) -> None:
    name, fs = bucket
    fs.put_file(str(big_csv), f"{name}/in/big.csv")
    summary = score_distributed([f"s3://{name}/in/big.csv"], f"s3://{name}/out", dask_client, model=export_dir,
                                blocksize="1MiB", merge=True, storage_options=storage_options)
    assert summary.blocks >= 10 and summary.rows == 60_000
    parts = [f"part-00000-{i:06d}.csv" for i in range(summary.blocks)]
    assert listing(fs, f"{name}/out/") == sorted([*parts, "scored.csv", SUCCESS])
    expected = single_machine(big_csv, tmp_path, export_dir)
    assert fs.cat_file(f"{name}/out/scored.csv") == expected
    bodies = [fs.cat_file(f"{name}/out/{p}").split(b"\n", 1)[1] for p in parts]
    assert expected.split(b"\n", 1)[0] + b"\n" + b"".join(bodies) == expected
    assert summary.line().endswith(f"-> s3://{name}/out/scored.csv (and {summary.blocks} part files beside it)")


@pytest.mark.slow
def test_a_glob_of_several_objects_and_a_compressed_one(dask_client, bucket, storage_options, wdbc_csv, export_dir,
                                                        tmp_path) -> None:
    name, fs = bucket
    for i in range(3):
        fs.pipe_file(f"{name}/in/w-{i}.csv", wdbc_csv.read_bytes())
    fs.pipe_file(f"{name}/in/w-3.csv.gz", gzip.compress(wdbc_csv.read_bytes()))
    fs.pipe_file(f"{name}/in/notes.txt", b"not an input")
    summary = score_distributed([f"s3://{name}/in/w-*"], f"s3://{name}/out/", dask_client, model=export_dir,
                                blocksize="64KiB", merge=True, storage_options=storage_options)
    assert summary.files == 4 and summary.rows == 4 * 569
    one = single_machine(wdbc_csv, tmp_path, export_dir)
    assert fs.cat_file(f"{name}/out/scored.csv") == one + one.split(b"\n", 1)[1] * 3


@pytest.mark.slow
def test_a_bad_row_names_the_object_and_line_and_leaves_no_success(dask_client, bucket, storage_options, big_csv,
                                                                   export_dir) -> None:
    name, fs = bucket
    fs.pipe_file(f"{name}/in/bad.csv", with_bad_value(big_csv.read_bytes(), 45_001, 6))
    with pytest.raises(InputError, match=rf"^s3://{name}/in/bad\.csv, line 45001, column 6 \('smoothness_mean'\): "
                                         r"expected a number, got 'oops'\. Fix the row"):
        score_distributed([f"s3://{name}/in/bad.csv"], f"s3://{name}/out", dask_client, model=export_dir,
                          blocksize="1MiB", storage_options=storage_options)
    assert SUCCESS not in listing(fs, f"{name}/out/")


@pytest.mark.slow
def test_two_jobs_into_one_s3_out_dir_at_once_one_is_refused_and_the_output_is_the_others(
        dask_client, bucket, storage_options, big_csv, wdbc_csv, export_dir, tmp_path) -> None:
    """The claim is a conditional PUT (If-None-Match: *) of OUT_DIR/_RUNNING: the S3 server refuses the second."""
    import json

    name, fs = bucket
    fs.put_file(str(big_csv), f"{name}/in/big.csv")
    fs.pipe_file(f"{name}/in/small.csv", wdbc_csv.read_bytes())
    inputs = [[f"s3://{name}/in/big.csv"], [f"s3://{name}/in/small.csv"]]
    done, refused = two_jobs_at_once(dask_client, inputs, f"s3://{name}/out", model=export_dir, blocksize="1MiB",
                                     storage_options=storage_options)
    assert len(done) == 1 and len(refused) == 1, (done, refused)
    assert re.search(rf"s3://{name}/out/ (is being written by job|is not empty)", str(refused[0])), refused[0]
    (plan, summary), = done
    local = big_csv if plan.files[0].endswith("big.csv") else wdbc_csv
    assert fs.cat_file(f"{name}/out/scored.csv") == single_machine(local, tmp_path, export_dir)
    assert listing(fs, f"{name}/out/") == sorted([*plan.part_names(), "scored.csv", SUCCESS])
    assert json.loads(fs.cat_file(f"{name}/out/{SUCCESS}"))["parts"] == plan.part_names()


@pytest.mark.slow
def test_a_rerun_needs_overwrite_which_replaces_only_the_jobs_files(dask_client, bucket, storage_options, wdbc_csv,
                                                                    export_dir, tmp_path) -> None:
    name, fs = bucket
    fs.pipe_file(f"{name}/in/w.csv", wdbc_csv.read_bytes())
    fs.pipe_file(f"{name}/out/README.txt", b"keep me")
    args = ([f"s3://{name}/in/w.csv"], f"s3://{name}/out", dask_client)
    with pytest.raises(ScoringError, match=rf"Output directory s3://{name}/out/ is not empty; pass --overwrite"):
        score_distributed(*args, model=export_dir, storage_options=storage_options)
    first = score_distributed(*args, model=export_dir, blocksize="16KiB", overwrite=True, merge=True,
                              storage_options=storage_options)
    with pytest.raises(ScoringError, match="is not empty"):
        score_distributed(*args, model=export_dir, storage_options=storage_options)
    second = score_distributed(*args, model=export_dir, blocksize="1MiB", overwrite=True, storage_options=storage_options)
    assert first.blocks > 1 and second.blocks == 1
    assert listing(fs, f"{name}/out/") == ["README.txt", SUCCESS, "part-00000-000000.csv"]
    assert fs.cat_file(f"{name}/out/part-00000-000000.csv") == single_machine(wdbc_csv, tmp_path, export_dir)
    assert fs.cat_file(f"{name}/out/README.txt") == b"keep me"


def test_inputs_inside_an_s3_out_dir_are_refused(dask_client, bucket, storage_options, wdbc_csv, export_dir,
                                                 capsys) -> None:
    name, fs = bucket
    fs.pipe_file(f"{name}/out/part-00000-000000.csv", wdbc_csv.read_bytes())
    fs.pipe_file(f"{name}/out2/w.csv", wdbc_csv.read_bytes())  # a sibling prefix is not inside
    options = [f"--storage-option={k}={v}" for k, v in storage_options.items()]
    code = main([f"s3://{name}/out/part-*.csv", f"s3://{name}/out", "--overwrite", "--model", str(export_dir),
                 "--scheduler", dask_client.scheduler.address, *options])
    assert code == 2
    error_line(capsys.readouterr().err, "InputError", f"s3://{name}/out/part-00000-000000.csv", "inside OUT_DIR",
               f"s3://{name}/out/", "--overwrite")
    assert fs.cat_file(f"{name}/out/part-00000-000000.csv") == wdbc_csv.read_bytes()
    assert main([f"s3://{name}/out2/w.csv", f"s3://{name}/out", "--overwrite", "--model", str(export_dir),
                 "--scheduler", dask_client.scheduler.address, *options]) == 0


@pytest.mark.slow
def test_the_readme_example_works_as_written_with_environment_variables(bucket, s3_endpoint, wdbc_csv, export_dir,
                                                                         in_empty_directory, tmp_path) -> None:
    """README: `python -m scoring.distributed 's3://bucket/in/*.csv' s3://bucket/out/`, store set by the environment."""
    name, fs = bucket
    for i in range(2):
        fs.pipe_file(f"{name}/in/w-{i}.csv", wdbc_csv.read_bytes())
    (in_empty_directory / "artifacts").mkdir()
    (in_empty_directory / "artifacts" / "export").symlink_to(export_dir)  # the default --model
    env = {**os.environ, "AWS_ENDPOINT_URL": s3_endpoint, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "scoring.distributed", f"s3://{name}/in/*.csv", f"s3://{name}/out/",
                           "--merge"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1].endswith(f"-> s3://{name}/out/scored.csv (and 2 part files beside it)")
    one = single_machine(wdbc_csv, tmp_path, export_dir)
    assert fs.cat_file(f"{name}/out/scored.csv") == one + one.split(b"\n", 1)[1]
    assert listing(fs, f"{name}/out/") == ["_SUCCESS", "part-00000-000000.csv", "part-00001-000000.csv", "scored.csv"]
    (in_empty_directory / "artifacts" / "export").unlink()
    (in_empty_directory / "artifacts").rmdir()


@pytest.fixture()
def s3_environment(dask_client, s3_endpoint, monkeypatch):
    """The store configured the usual way, by environment variables, here and on the running workers."""
    env = {"AWS_ENDPOINT_URL": s3_endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    dask_client.run(lambda: os.environ.update(env))
    yield
    dask_client.run(lambda: [os.environ.pop(key, None) for key in env])


@pytest.mark.slow
def test_an_s3_out_dir_is_written_to_the_bucket_never_to_a_local_s3_directory(dask_client, bucket, s3_environment,
                                                                              wdbc_csv, export_dir, tmp_path,
                                                                              capsys) -> None:
    name, fs = bucket
    fs.pipe_file(f"{name}/in/w.csv", wdbc_csv.read_bytes())
    code = main([f"s3://{name}/in/w.csv", f"s3://{name}/out/", "--merge", "--model", str(export_dir),
                 "--scheduler", dask_client.scheduler.address])
    err = capsys.readouterr().err
    assert code == 0, err
    assert err.strip().splitlines()[-1].endswith(f"-> s3://{name}/out/scored.csv (and 1 part file beside it)")
    assert listing(fs, f"{name}/out/") == [SUCCESS, "part-00000-000000.csv", "scored.csv"]
    assert fs.cat_file(f"{name}/out/scored.csv") == single_machine(wdbc_csv, tmp_path, export_dir)
    # (the autouse fixture checks that the working directory holds no local "s3:" directory)


def test_a_missing_bucket_is_refused_before_the_job(bucket, storage_options, wdbc_csv, export_dir) -> None:
    from scoring.distributed import plan_job

    name, _ = bucket
    with pytest.raises(ScoringError, match=r"^Output bucket s3://no-such-bucket-[0-9a-f]+ does not exist"):
        plan_job([str(wdbc_csv)], f"s3://no-such-bucket-{name[5:]}/out", model=export_dir,
                 storage_options=storage_options)


@pytest.mark.slow
def test_parquet_objects_in_parquet_parts_and_merge_out(dask_client, bucket, storage_options, big_csv, export_dir,
                                                        tmp_path) -> None:
    """Row groups of an S3 object read by the workers through s3fs; Parquet parts and scored.parquet in the bucket."""
    import polars as pl

    name, fs = bucket
    local = tmp_path / "big.parquet"
    pl.read_csv(big_csv).write_parquet(local, row_group_size=10_000)
    fs.put_file(str(local), f"{name}/in/big.parquet")
    summary = score_distributed([f"s3://{name}/in/"], f"s3://{name}/out", dask_client, model=export_dir,
                                blocksize=1, merge=True, output_format="parquet", storage_options=storage_options)
    assert summary.blocks == 6 and summary.rows == 60_000
    parts = [f"part-00000-{i:06d}.parquet" for i in range(6)]
    assert listing(fs, f"{name}/out/") == sorted([*parts, "scored.parquet", SUCCESS])
    single = tmp_path / "single.parquet"
    score_csv(local, single, model=export_dir)
    with fs.open(f"{name}/out/scored.parquet", "rb") as merged:
        assert pl.read_parquet(merged).equals(pl.read_parquet(single))
    with fs.open(f"{name}/out/{parts[5]}", "rb") as last:
        assert pl.read_parquet(last).equals(pl.read_parquet(single).slice(50_000))
