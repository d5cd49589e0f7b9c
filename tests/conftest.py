"""Shared fixtures: the trained model and its artifacts (built once per session), a tiny filesystem, and a
check that no test leaves temporary files behind, and child processes that cannot outlive their test."""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from model.fit import FitConfig
from model.run import TrainResult, save_run, train

# Property tests: no example database in the work tree, and no per-example deadline (the machine is shared).
settings.register_profile("project", database=None, deadline=None)
settings.load_profile("project")


@pytest.fixture(scope="session")
def trained() -> TrainResult:
    """The default (tutorial) training run on the bundled data."""
    return train(FitConfig())


def _prebuilt(name: str) -> Path | None:
    """In a mutation run (tests/mutation/run.py) the session's artifacts are the ones the runner built once from
    unmutated code: rebuilding them would cost every mutant a training and an export. So a mutant is caught by
    the tests that run its code themselves (those that train or export in the test), not through these fixtures."""
    root = os.environ.get("WDBC_MUTATION_ARTIFACTS")
    return Path(root) / name if root else None


@pytest.fixture(scope="session")
def model_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default run saved as ``python -m model.train`` would save it."""
    return _prebuilt("model") or save_run(request.getfixturevalue("trained"), tmp_path_factory.mktemp("train") / "model")


def _exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, model_fixture: str,
              name: str) -> Path:
    """The training run of ``model_fixture`` exported as ``python -m export`` does, to ``name`` (or prebuilt)."""
    if (prebuilt := _prebuilt(name)) is not None:
        return prebuilt
    from export.pipeline import export_model

    out = tmp_path_factory.mktemp(name.replace("/", "-")) / "export"
    export_model(request.getfixturevalue(model_fixture), out)
    return out


@pytest.fixture(scope="session")
def export_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both artifacts of the default run, exported and parity-checked as ``python -m export`` does."""
    return _exported(request, tmp_path_factory, "model_dir", "export")


@pytest.fixture(scope="session")
def trained_mlp() -> TrainResult:
    """The default MLP (``--model mlp``: hidden layers 32,16, relu) trained as the tutorial's run is."""
    from model.families import ModelSpec

    return train(FitConfig(), model_spec=ModelSpec.of("mlp"))


@pytest.fixture(scope="session")
def mlp_model_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default MLP run saved as ``python -m model.train --model mlp`` would save it."""
    return _prebuilt("mlp/model") or save_run(request.getfixturevalue("trained_mlp"),
                                              tmp_path_factory.mktemp("train-mlp") / "model")


@pytest.fixture(scope="session")
def mlp_export_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both artifacts of the default MLP run, exported and parity-checked as ``python -m export`` does."""
    return _exported(request, tmp_path_factory, "mlp_model_dir", "mlp/export")


@pytest.fixture(scope="session")
def wdbc_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 569 WDBC rows as a CSV with a header: id, diagnosis, 30 features."""
    from model.wdbc import load_bundled

    path = tmp_path_factory.mktemp("data") / "wdbc.csv"
    load_bundled().write_csv(path)
    return path


@pytest.fixture(scope="session", params=["onnx", "tf"])
def runtime_name(request: pytest.FixtureRequest) -> str:
    """Every scorer test that takes this runs on both runtimes."""
    return request.param


@pytest.fixture(scope="session")
def loaded_runtimes(export_dir: Path) -> dict:
    from contract.artifacts import resolve_model
    from scoring.runtimes import load_runtime

    return {name: load_runtime(resolve_model(export_dir, name)) for name in ("onnx", "tf")}


@pytest.fixture()
def runtime(runtime_name: str, loaded_runtimes: dict):
    return loaded_runtimes[runtime_name]


@pytest.fixture(scope="session")
def other_export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another run's export (5 epochs, threshold for FNR 0): what a mixed-up artifact folder gets mixed with."""
    if (prebuilt := _prebuilt("other/export")) is not None:
        return prebuilt
    from export.pipeline import export_model

    root = tmp_path_factory.mktemp("other")
    save_run(train(FitConfig(epochs=5), target_fnr=0.0), root / "model")
    export_model(root / "model", root / "export")
    return root / "export"


class Mounts(contextlib.AbstractContextManager):
    """``mounts(args, why)``: a fresh folder under ``root`` with ``mount ARGS FOLDER`` on it (skips the test, saying
    ``why``, where mounting is not allowed), unmounted on exit."""

    def __init__(self, root: Path) -> None:
        self.root, self.done = root, []

    def __call__(self, args: list[str], why: str) -> Path:
        where = self.root / f"mount-{len(self.done)}"
        where.mkdir()
        done = subprocess.run(["mount", *args, str(where)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount here ({done.stderr.strip()}); {why} needs root")
        self.done.append(where)
        return where

    def __exit__(self, *exc: object) -> None:
        for where in self.done:
            subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture()
def small_disk(tmp_path: Path):
    """``small_disk("64k")``: a real filesystem that fills up (a tmpfs of that size), unmounted after the test."""
    with Mounts(tmp_path) as mounts:
        yield lambda size: mounts(["-t", "tmpfs", "-o", f"size={size}", "tmpfs"], "a disk-full test")


@pytest.fixture()
def bind_mount(tmp_path: Path):
    """``bind_mount(folder)``: the same folder under a second path (as a container volume or NFS gives one)."""
    with Mounts(tmp_path) as mounts:
        yield lambda folder: mounts(["--bind", str(folder)], "a bind-mount test")


@pytest.fixture(scope="session")
def dask_client():
    """One local Dask cluster (2 worker processes, 1 thread each) for every distributed test: clusters are
    slow to start."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="session")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60,000 generated rows (13 MiB): enough for many blocks of a distributed job."""
    from benchmarks.datagen import write_csv

    return write_csv(tmp_path_factory.mktemp("dist") / "big.csv", 60_000, seed=3)


TEMPORARY = re.compile(r"\..+\.tmp")


@pytest.fixture(autouse=True)
def _no_temporary_files_left(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test that uses ``tmp_path`` fails if it leaves a hidden temporary output (``.NAME...tmp``)."""
    if "tmp_path" not in request.fixturenames:
        yield
        return
    root = request.getfixturevalue("tmp_path")
    yield
    left = sorted(str(p.relative_to(root)) for p in root.rglob(".*") if TEMPORARY.fullmatch(p.name))
    assert not left, f"temporary files left behind: {left}"


@pytest.fixture()
def small_filesystem(small_disk) -> Path:
    """A directory on a real 64 KiB tmpfs, for disk-full tests; unmounted afterwards."""
    return small_disk("64k")


def die_with_parent() -> None:
    """For ``preexec_fn`` or a forked child: the kernel sends this process SIGKILL when the test process dies,
    even by SIGKILL (as a mutation run's timeout does), so that no scorer outlives its test (PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG (Linux)


def kill_group_or_process(pid: int) -> None:
    """SIGKILL ``pid``'s process group if it leads one (``start_new_session``), else ``pid`` alone."""
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)


class Children(contextlib.AbstractContextManager):
    """``subprocess.Popen`` for children that may run long (a scorer at one row per inference call): each dies
    with the test process, and one still running when the block ends is killed with its group and reaped. A
    failing test used to leave such scorers running for minutes, loading the machine for every later test."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []

    def __call__(self, args: list[str], preexec_fn: Callable[[], None] | None = None, **kwargs: Any) -> subprocess.Popen:
        def setup() -> None:
            die_with_parent()
            if preexec_fn is not None:
                preexec_fn()

        proc = subprocess.Popen(args, preexec_fn=setup, **kwargs)
        self.started.append(proc)
        return proc

    def __exit__(self, *exc: object) -> None:
        for proc in self.started:
            if proc.poll() is None:
                kill_group_or_process(proc.pid)
                proc.wait()


@pytest.fixture()
def spawn() -> Iterator[Children]:
    with Children() as children:
        yield children
