"""Tests for ``python -m model.train``: options, one-line errors, a full disk, the module run."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from model.train import main


@pytest.mark.slow
def test_cli_writes_model_report_and_plots(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    assert main(["--epochs", "5", "--out", str(out), "--target-fnr", "0.1"]) == 0
    for name in ("model.json", "report.json", "training_curves.png", "confusion_matrices.png", "threshold_tradeoff.png"):
        assert (out / name).is_file(), name
    assert list((out / "checkpoint").iterdir())
    info = json.loads((out / "model.json").read_text())
    assert info["threshold"] == json.loads((out / "report.json").read_text())["threshold"]
    captured = capsys.readouterr()
    assert "sklearn LogisticRegression" in captured.out
    assert "epoch    5/5" in captured.err


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--epochs", "-3"], r"--epochs must be an integer in \[1, 1,000,000\], got -3"),
        (["--epochs", str(10**20)], r"--epochs must be an integer in \[1, 1,000,000\], got 100000000000000000000"),
        (["--batch-size", str(2**62)], "--batch-size must be at most 2,147,483,648"),
        (["--seed", str(10**23)], r"--seed must be at most 9,223,372,036,854,775,807 \(TensorFlow's seeds are 64-bit\)"),
        (["--cv-folds", str(10**6), "--l2", "cv"], "--cv-folds must be at most 1000, got 1000000"),
        (["--learning-rate", "0"], "--learning-rate must be a finite number > 0, got 0.0"),
        (["--target-fnr", "1.5"], r"--target-fnr must be in \[0, 1\], got 1.5"),
        (["--batch-size", "0"], "--batch-size must be a positive integer"),
        (["--l2", "-1"], "--l2 must be a finite number >= 0"),
        (["--optimizer", "adamw"], "--optimizer must be one of 'adam', 'sgd', got 'adamw'"),
        (["--data", "/nonexistent/wdbc.data"], "DataError: Data file not found: /nonexistent/wdbc.data"),
    ],
)
def test_cli_bad_arguments_give_one_line_error(tmp_path: Path, capsys, args, match) -> None:
    out = tmp_path / "run"
    assert main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.match(r"(ConfigError|DataError): ", err[0])
    assert re.search(match, err[0]), err[0]
    assert not out.exists()


def test_cli_optimizer_flag_reaches_the_report(tmp_path: Path) -> None:
    from model.train import build_parser

    assert "(default: sgd)" in " ".join(build_parser().format_help().split())
    out = tmp_path / "run"
    assert main(["--epochs", "2", "--optimizer", "adam", "--learning-rate", "0.05", "--out", str(out), "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["optimizer"] == "adam"
    assert report["config"]["learning_rate"] == 0.05


def test_cli_failure_keeps_previous_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(["--epochs", "2", "--out", str(out), "--quiet"]) == 0
    before = (out / "model.json").read_bytes()
    assert main(["--epochs", "2", "--out", str(out), "--data", str(tmp_path / "missing.data")]) == 2
    assert (out / "model.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no staging directory left behind


@pytest.mark.slow
def test_cli_runs_as_a_module(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "model.train", "--epochs", "3", "--out", str(tmp_path / "m")],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "ours (test)" in done.stdout
    bad = subprocess.run([sys.executable, "-m", "model.train", "--epochs", "-1", "--out", str(tmp_path / "x")],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


@pytest.mark.slow
@pytest.mark.parametrize("size", ["16k", "64k", "128k"])
def test_full_disk_is_one_line_and_leaves_nothing(small_disk, capsys, size: str) -> None:
    disk = small_disk(size)  # full at different points: the checkpoint, the plots, the report
    assert main(["--epochs", "2", "--quiet", "--out", str(disk / "model")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"OSError: [Errno 28] No space left on device while writing {disk / 'model'} (nothing was "
                   "written). Free some space or choose another --out."]
    assert list(disk.iterdir()) == []


def test_a_four_row_table_trains_and_its_report_is_strict_json(tmp_path: Path, capsys) -> None:
    """Undefined rates (no positive test row) are null, not NaN; the CV baseline needs 2 rows a class."""
    data = tmp_path / "four.csv"
    data.write_text("a,y\n1,0\n2,1\n3,0\n4,1\n")
    out = tmp_path / "model"
    assert main(["--data", str(data), "--label", "y", "--epochs", "2", "--out", str(out)]) == 0
    summary = capsys.readouterr().out
    assert "data: " in summary and "1 features; label 'y': class 1 = 1 (2 rows), class 0 = 0 (2 rows)" in summary

    def no_nan(text: str) -> None:
        raise AssertionError(f"{text} in report.json")

    report = json.loads((out / "report.json").read_text(), parse_constant=no_nan)
    test = report["metrics"]["test"]
    assert test["n"] == 1 and None in (test["fpr"], test["fnr"]) and test["roc_auc"] is None
    assert set(report["baseline_test"]) == {"LogisticRegression"}


@pytest.mark.slow
def test_a_device_as_data_is_refused_at_once(tmp_path: Path) -> None:
    """The issue's case: `model.train --data /dev/zero` read 2.5 GB in 4.5 s and went on."""
    from benchmarks.common import run_measured

    try:
        run = run_measured([sys.executable, "-m", "model.train", "--data", "/dev/zero", "--out", str(tmp_path / "m")],
                           check=False, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("model.train --data /dev/zero still ran after 120 s")
    assert run["returncode"] == 2 and run["stderr"] == (
        "DataError: /dev/zero is a device or a socket, not a file: expected a CSV, Parquet or UCI 'wdbc.data' file "
        "(save the data to a file first).\n")
    assert run["peak_rss_mib"] < 1000 and not (tmp_path / "m").exists()
