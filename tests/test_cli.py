"""Every command line of the project: --help and --version without TensorFlow, and no TensorFlow log lines on
stderr in a normal run (real subprocesses, as a user runs them)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from contract.cli import version
from tests.expect import says

CLIS = ["model.train", "model.data", "export", "scoring.batch", "scoring.inspect", "scoring.distributed",
        "model.journey", "benchmarks.datagen", "benchmarks.scoring", "benchmarks.training",
        "benchmarks.training_scale", "benchmarks.model_throughput", "benchmarks.scaling", "benchmarks.distributed",
        "benchmarks.distributed_scaling", "benchmarks.parity", "benchmarks.signals", "benchmarks.scoring_worker",
        "benchmarks.cores", "benchmarks.tf_startup", "benchmarks.parquet", "scoring.serve", "benchmarks.serving", "benchmarks.serving_peer"]
#: What TensorFlow, absl, CUDA and oneDNN print by themselves.
TF_NOISE = re.compile(r"^(WARNING: All log messages|[IWEF]\d{4} [\d:.]+ +\d+ \S+\.cc:\d+\]|.*TF_ENABLE_ONEDNN_OPTS|"
                      r".*rebuild TensorFlow|To enable the following instructions|.*cuInit|.*cuda)", re.M)


def test_the_noise_pattern_matches_what_tensorflow_prints() -> None:
    """Guard for the tests below: these lines were copied from a run of TensorFlow 2.21 on this machine."""
    printed = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
               "I0000 00:00:1795868512.610802    6289 port.cc:153] oneDNN custom operations are on.\n"
               "E0000 00:00:1795868518.305351    6289 cuda_platform.cc:52] failed call to cuInit: INTERNAL\n")
    assert len(TF_NOISE.findall(printed)) == 3 and not TF_NOISE.search("scored 569 rows (208 positive)\n")


def run(args: list[str], cwd: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)


@pytest.mark.slow
@pytest.mark.parametrize("module", CLIS)
def test_help_and_version_need_no_tensorflow(module: str) -> None:
    probe = ("import runpy, sys\n"
             f"sys.argv = [{module!r}, *sys.argv[1:]]\n"
             "try:\n"
             f"    runpy.run_module({module!r}, run_name='__main__')\n"
             "except SystemExit as exit:\n"
             "    assert exit.code in (0, None), exit.code\n"
             "print('LOADED' if 'tensorflow' in sys.modules else 'NOT LOADED', file=sys.stderr)\n")
    for flag in ("--help", "--version"):
        done = run(["-c", probe, flag])
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stderr.strip().endswith("NOT LOADED"), (module, flag, done.stderr[-500:])
        if flag == "--help":
            assert "usage:" in done.stdout and "--version" in done.stdout
        else:
            assert done.stdout.strip().endswith(f"{version()} (wdbc-graph-export)")


@pytest.mark.slow
def test_tiny_real_jobs_print_no_tensorflow_lines(export_dir: Path, wdbc_csv: Path, tmp_path: Path) -> None:
    jobs = [
        ["-m", "model.train", "--epochs", "2", "--out", str(tmp_path / "model")],
        ["-m", "export", "--model", str(tmp_path / "model"), "--out", str(tmp_path / "export")],
        ["-m", "scoring.batch", str(wdbc_csv), str(tmp_path / "tf.csv"), "--model", str(export_dir), "--runtime", "tf"],
        ["-m", "scoring.batch", str(wdbc_csv), str(tmp_path / "onnx.csv"), "--model", str(export_dir)],
        ["-m", "scoring.inspect", str(export_dir)],
        ["-m", "model.data", str(tmp_path / "wdbc.csv")],
    ]
    for job in jobs:
        done = run(job)
        assert done.returncode == 0, (job, done.stderr[-2000:])
        assert not TF_NOISE.search(done.stderr), (job, done.stderr[:2000])
    verbose = run(["-m", "scoring.batch", str(wdbc_csv), str(tmp_path / "v.csv"), "--model", str(export_dir),
                   "--runtime", "tf", "--verbose"])
    assert verbose.returncode == 0 and TF_NOISE.search(verbose.stderr)  # --verbose brings them back


@pytest.mark.slow
def test_the_distributed_job_on_tensorflow_prints_no_tensorflow_lines(export_dir: Path, wdbc_csv: Path,
                                                                     tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    done = run(["-m", "scoring.distributed", str(wdbc_csv), str(tmp_path / "out"), "--model", str(export_dir),
                "--runtime", "tf", "--workers", "1"])
    assert done.returncode == 0, done.stderr[-2000:]
    assert not TF_NOISE.search(done.stderr), done.stderr[:2000]


@pytest.mark.slow
@pytest.mark.parametrize("module", [m for m in CLIS if m.startswith("benchmarks.") or m == "scoring.distributed"])
def test_every_option_says_what_it_is_and_its_default(module: str) -> None:
    """issue 13: 'every option of scoring.distributed and the benchmarks has help text and shows its default'."""
    done = run(["-m", module, "--help"])
    assert done.returncode == 0
    text = re.sub(r"\s+", " ", done.stdout.split("options:", 1)[1])
    for block in re.split(r" (?=--[a-z])", text):
        if not block.strip().startswith("--"):
            continue  # "-h, --help ..."
        flag, metavar, described = re.match(r"(--[a-z][a-z0-9-]*)((?: [A-Z_]+| \{[^}]+\})?)(.*)", block.strip()).groups()
        if flag in ("--help", "--version"):
            continue
        assert described.strip(), f"{module} {flag} has no help text"
        if metavar.strip():  # an option that takes a value says what happens when it is not given
            assert "default" in described, f"{module} {flag} does not show its default"


@pytest.mark.slow
def test_long_steps_say_what_they_do_on_a_terminal(tmp_path: Path) -> None:
    """In a real terminal (a pty) training and export name each long step; in a pipe they do not."""
    import os
    import pty

    def in_terminal(args: list[str]) -> str:
        pid, fd = pty.fork()
        if pid == 0:  # the child: stdout and stderr are the terminal
            os.execv(sys.executable, [sys.executable, *args])
        chunks = []
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        return b"".join(chunks).decode(errors="replace")

    shown = in_terminal(["-m", "model.train", "--epochs", "3", "--l2", "cv", "--cv-folds", "2",
                         "--out", str(tmp_path / "model")])
    says(shown, "2-fold", "427", "l2 0.1", "427", "30", "3 epochs")  # each step, with what it works on
    shown = in_terminal(["-m", "export", "--model", str(tmp_path / "model"), "--out", str(tmp_path / "export")])
    says(shown, "ONNX", "opset 17", "parity", "569 rows")
    piped = run(["-m", "export", "--model", str(tmp_path / "model"), "--out", str(tmp_path / "export2")])
    assert piped.returncode == 0 and "converting" not in piped.stderr
