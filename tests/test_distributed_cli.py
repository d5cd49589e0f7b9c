"""Tests for scoring.distributed.cli as a real process: Ctrl-C and SIGTERM stop the job cleanly."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from benchmarks.common import default_sigint  # noqa: E402
from tests.expect import error_line
from scoring.distributed.cli import Stopped  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_to_the_process_group_stops_the_job_with_one_line(big_csv, export_dir, tmp_path, signum,
                                                                   code) -> None:
    """As Ctrl-C in a terminal does, the signal reaches the CLI and every worker process it started."""
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "scoring.distributed", str(big_csv), str(out), "--model",
                             str(export_dir), "--blocksize", "128KiB", "--workers", "2", "--merge", "--quiet"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=default_sigint)
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob("part-*.csv")) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, f"the job ended before the signal: {proc.stderr.read()}"
        os.killpg(proc.pid, signum)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == code
        error_line(err, f"Interrupted ({signal.Signals(signum).name})", "cancelled", f"{out} has no _SUCCESS")
        assert not (out / "_SUCCESS").exists() and not (out / "scored.csv").exists()
        deadline = time.monotonic() + 20
        while _group_alive(proc.pid) and time.monotonic() < deadline:  # the workers were closed, not orphaned
            time.sleep(0.1)
        assert not _group_alive(proc.pid)
    finally:
        if _group_alive(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_an_s3_url_without_s3fs_is_one_line_naming_the_extra(wdbc_csv, export_dir, tmp_path, monkeypatch,
                                                             capsys) -> None:
    import importlib

    from scoring.distributed import main

    monkeypatch.delitem(importlib.import_module("fsspec.registry")._registry, "s3", raising=False)
    monkeypatch.setitem(sys.modules, "s3fs", None)  # as when the s3 extra is not installed
    assert main([str(wdbc_csv), "s3://bucket/out/", "--model", str(export_dir)]) == 2
    error_line(capsys.readouterr().err, "ScoringError", "s3://bucket/out/", "s3fs", "pip install 'wdbc-graph-export[s3]'",
               "pip install -e '.[s3]'")


@pytest.mark.slow
def test_a_bad_row_is_one_line_on_stderr_without_the_workers_report_of_it(big_csv, export_dir, tmp_path) -> None:
    """The worker's own "Compute Failed" log of the row (with a traceback) would come before our line."""
    lines = big_csv.read_bytes().split(b"\n")
    fields = lines[30_000].split(b",")
    fields[5] = b"n/a"
    lines[30_000] = b",".join(fields)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\n".join(lines))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "scoring.distributed", str(bad), str(tmp_path / "out"), "--model",
                           str(export_dir), "--blocksize", "1MiB", "--workers", "2", "--quiet"],
                          env=env, capture_output=True, text=True, timeout=300, start_new_session=True)
    assert done.returncode == 2
    # 'n/a' is one of the model's missing-value spellings: the Dask job reads it as training did.
    error_line(done.stderr, "InputError", f"{bad}, line 30001, column 6 ('smoothness_mean')", "missing value ('n/a')",
               "Fix the row", "no _SUCCESS")


@pytest.mark.parametrize("signum, raised", [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, Stopped)])
def test_the_signal_handler_quiets_dask_before_the_unwinding_starts(signum, raised) -> None:
    """Once interrupted, Dask's own clean-up (distributed.utils.sync's cancel callback, on its event loop thread)
    may log an error before the job's handler runs: the handler quiets the loggers first, so the one line stays one."""
    import logging

    from scoring.distributed.cli import _on_signal

    names = ("distributed", "tornado", "tornado.application", "asyncio")
    roots = {name.split(".")[0] for name in names}
    levels = {name: logging.getLogger(name).level for name in
              {*names, *(n for n in logging.root.manager.loggerDict if n.split(".")[0] in roots)}}
    try:
        with pytest.raises(raised) as caught:
            _on_signal(signum, None)
        assert (caught.type is Stopped) == (signum == signal.SIGTERM)
        assert all(not logging.getLogger(name).isEnabledFor(logging.CRITICAL) for name in names)
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def test_a_stop_whose_exception_a_finalizer_swallowed_is_raised_again_at_the_next_check(monkeypatch) -> None:
    """Python prints and drops an exception raised while it runs a ``__del__`` (a Dask future's, at any moment):
    the handler keeps the signal, and the job's next check raises it."""
    from scoring.distributed import cli

    cli._received.clear()

    class Finalized:
        def __del__(self) -> None:
            cli._on_signal(signal.SIGTERM, None)

    dropped = []
    monkeypatch.setattr(sys, "unraisablehook", lambda raised: dropped.append(raised.exc_type))
    try:
        Finalized()  # collected at once: its exception goes to sys.unraisablehook, never to the caller
        gc.collect()
        assert dropped == [Stopped]
        with pytest.raises(Stopped):
            cli._check_stop()
    finally:
        cli._received.clear()
    cli._check_stop()  # nothing received: nothing raised
