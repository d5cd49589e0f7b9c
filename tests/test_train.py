"""Tests for model.train: the default run's quality, the report, and the CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model.fit import FitConfig
from model.train import main, train


def test_default_run_meets_the_quality_bar(trained) -> None:
    test = trained.report["metrics"]["test"]
    assert test["n"] == 142
    assert test["accuracy"] >= 0.97
    assert test["log_loss"] <= 0.09
    assert trained.trace_count == 1


def test_report_has_history_baseline_fingerprint_and_versions(trained) -> None:
    report = trained.report
    assert len(report["history"]["eval_log_loss"]) == 200
    assert report["history"]["eval_log_loss"][-1] == pytest.approx(report["metrics"]["test"]["log_loss"], rel=1e-4)
    assert set(report["baseline_test"]) == {"LogisticRegression", "LogisticRegressionCV"}
    assert report["baseline_test"]["LogisticRegression"]["accuracy"] > 0.95
    assert len(report["data"]["fingerprint_sha256"]) == 64
    assert report["versions"]["tensorflow"].startswith("2.")
    assert report["config"] == {"epochs": 200, "learning_rate": 0.01, "batch_size": 64, "l2": 0.0, "seed": 22,
                                "optimizer": "sgd"}


def test_target_fnr_threshold_is_recorded_and_met_on_training_rows() -> None:
    result = train(FitConfig(epochs=60), target_fnr=0.02)
    report = result.report
    assert report["threshold"] < 0.5
    assert report["metrics"]["train"]["fnr"] <= 0.02
    assert result.classifier.threshold.numpy() == np.float32(report["threshold"])
    # Chosen on the training rows, exactly as the chooser does it (the test rows never steer it).
    from model.data import split
    from model.metrics import threshold_for_fnr

    rows = split(result.dataset)
    train_p = result.classifier.outputs(rows.x_train)["probability"].numpy()
    assert report["threshold"] == threshold_for_fnr(rows.y_train, train_p, 0.02)
    test_p = result.classifier.outputs(rows.x_test)["probability"].numpy()
    assert threshold_for_fnr(rows.y_test, test_p, 0.02) != report["threshold"]  # so the two choices are told apart


def test_cv_choice_never_sees_test_rows(tmp_path: Path) -> None:
    """Flipping every test label must not change the CV scores or the chosen strength."""
    import polars as pl

    from model.data import load_dataset, split
    from model.wdbc import load_bundled

    test_rows = split(load_dataset()).test_index
    frame = load_bundled()
    flip = pl.Series(np.isin(np.arange(frame.height), test_rows))
    flipped = frame.with_columns(pl.when(flip).then(pl.when(pl.col("diagnosis") == "M").then(pl.lit("B"))
                                                    .otherwise(pl.lit("M"))).otherwise(pl.col("diagnosis"))
                                 .alias("diagnosis"))
    assert (flipped["diagnosis"] != frame["diagnosis"]).sum() == len(test_rows)
    path = tmp_path / "flipped.data"
    flipped.write_csv(path, include_header=False)
    config = FitConfig(epochs=20)
    a = train(config, l2_cv=True, cv_folds=3).report["l2_selection"]
    b = train(config, data=path, l2_cv=True, cv_folds=3).report["l2_selection"]
    assert a == b
    assert a["chosen"] in (0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)


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
        (["--epochs", "-3"], "--epochs must be a positive integer, got -3"),
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
