"""docs/serving.md's examples, as written: every curl line and the tritonclient block, against a real server (on a
free port, put in place of 8080), from a folder holding the main job's artifacts/wdbc.csv."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from scoring.batch import score_csv
from tests.test_serve import Server, bits

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "serving.md"
pytestmark = pytest.mark.slow  # a server of its own, and a Python interpreter per example line


def block_after(marker: str, doc: Path = DOC) -> str:
    match = re.search(rf"<!-- {re.escape(marker)} -->\n```\w*\n(.*?)```", doc.read_text(), re.S)
    assert match, f"no block after <!-- {marker} --> in {doc.name}"
    return match.group(1)


@pytest.fixture(scope="module")
def served(export_dir: Path, tmp_path_factory: pytest.TempPathFactory, wdbc_csv: Path):
    from tests.conftest import Children

    folder = tmp_path_factory.mktemp("docs")
    (folder / "artifacts").mkdir()
    shutil.copy(wdbc_csv, folder / "artifacts" / "wdbc.csv")
    scored = folder / "scored.csv"
    score_csv(wdbc_csv, scored, model=str(export_dir))
    expected = pl.read_csv(scored, schema_overrides={"probability": pl.Float32})
    with Children() as children:
        server = Server(children, "--model", str(export_dir))
        yield server, folder, expected
        assert server.stop() == 0


def test_the_curl_examples_run_as_written(served) -> None:
    server, folder, expected = served
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    printed = []
    for line in block_after("serving-example").splitlines():
        done = subprocess.run(["bash", "-c", line.replace("localhost:8080", f"127.0.0.1:{server.port}")], cwd=folder,
                              capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == 0, (line, done.stderr)
        printed.append(done.stdout.strip())
    ready, metadata, infer, csv, instances, _, split, metrics = printed[1:]
    assert ready == "200" and metrics == "200" and "wdbc_serve_requests_total" in (folder / "metrics.txt").read_text()
    assert json.loads(metadata)["inputs"] == [{"name": "features", "datatype": "FP32", "shape": [-1, 30]}]
    outputs = {o["name"]: o["data"] for o in json.loads(infer)["outputs"]}
    assert bits(outputs["probability"]) == bits(expected["probability"][:1]) and outputs["label"] == [1]
    for answer, rows in ((csv, 2), (instances, 1), (split, 2)):
        got = [p["probability"] for p in json.loads(answer)["predictions"]]
        assert (bits(got) == bits(expected["probability"][:rows])).all()


def test_the_tritonclient_example_runs_as_written(served) -> None:
    server, folder, expected = served
    code = block_after("serving-tritonclient").replace("localhost:8080", f"127.0.0.1:{server.port}")
    done = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    shown = np.array(re.findall(r"[\d.]+", done.stdout.split("]")[0]), dtype=np.float32)
    assert np.allclose(shown, expected["probability"][:2].to_numpy(), atol=1e-6)
    assert done.stdout.strip().endswith("[1 1]")


def test_the_readme_example_runs_as_written(served) -> None:
    """README.md's two lines: the server command (its flags are checked by tests/test_readme.py; the test's server
    runs the same command on a free port) and the curl line, run as written."""
    server, folder, expected = served
    start, request = block_after("serve-example", ROOT / "README.md").strip().splitlines()
    assert start == "python -m scoring.serve --model artifacts/export"
    done = subprocess.run(["bash", "-c", request.replace("localhost:8080", f"127.0.0.1:{server.port}")], cwd=folder,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    got = [p["probability"] for p in json.loads(done.stdout)["predictions"]]
    assert (bits(got) == bits(expected["probability"])).all()
