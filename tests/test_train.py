"""Tests for ``python -m model.train``: options, one-line errors, a full disk, the module run."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from model.train import main
from tests.expect import says


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
        (["--hidden", "8"], "--hidden shape an MLP; --model logreg has no hidden layers. Pass --model mlp"),
        (["--model", "mlp", "--hidden", "32,0"], "--hidden must be one or more positive layer widths such as 32,16, "
                                                 "got 32,0"),
    ],
)
def test_cli_bad_arguments_give_one_line_error(tmp_path: Path, capsys, args, match) -> None:
    out = tmp_path / "run"
    assert main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.match(r"(ConfigError|DataError): ", err[0])
    assert re.search(match, err[0]), err[0]
    assert not out.exists()


@pytest.mark.slow
def test_cli_optimizer_flag_reaches_the_report(tmp_path: Path) -> None:
    from model.train import build_parser

    assert "(default: sgd on WDBC, adam on other tables)" in " ".join(build_parser().format_help().split())
    out = tmp_path / "run"
    assert main(["--epochs", "2", "--optimizer", "adam", "--learning-rate", "0.05", "--out", str(out), "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["optimizer"] == "adam"
    assert report["config"]["learning_rate"] == 0.05


@pytest.mark.slow
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


@pytest.mark.slow
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


REFUSALS = [
    (["--data", "{iris}"], r"DataError: .*which column is the label\? Pass --label COLUMN"),
    (["--data", "{iris}", "--label", "species"], r"DataError: .*pass --positive VALUE"),
    (["--data", "{comma}", "--label", "y"], r"DataError: .*column 1 \('a'\): .*decimal comma.* --decimal ,"),
    (["--data", "{iris}", "--label", "species", "--positive", "virginica", "--features", "nope"],
     r"DataError: .*no columns 'nope'"),
    (["--data", "{iris}", "--label", "species", "--positive", "virginica", "--test", "{comma}"],
     r"DataError: .*comma.csv: no label column .species."),
    (["--data", "{iris}", "--label", "species", "--positive", "virginica", "--l2", "cv", "--cv-folds", "60"],
     r"DataError: --l2 cv with 60 folds needs at least 60 training rows of each class"),
    (["--epochs", "0"], r"ConfigError: --epochs must be .*got 0"),
    (["--recipe", "converge", "--tolerance", "2"], r"ConfigError: --tolerance must be in \[0, 1\)"),
    (["--data", "{missing}"], r"DataError: Data file not found"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("args", "match"), REFUSALS)
def test_refusals_come_before_tensorflow_in_well_under_a_second(tmp_path: Path, args, match) -> None:
    """A real ``python -m model.train``: the error line, exit 2, TensorFlow never imported (``-X importtime``
    lists every module a process imports), and under a second of the process's CPU time."""
    import resource

    from sklearn.datasets import load_iris

    bunch = load_iris(as_frame=True)
    frame = bunch.frame
    frame["species"] = bunch.target_names[frame.pop("target")]
    frame[frame.species != "setosa"].to_csv(tmp_path / "iris.csv", index=False)
    (tmp_path / "comma.csv").write_text("a;y\n66,7;0\n1,5;1\n2,25;0\n")
    paths = {"iris": tmp_path / "iris.csv", "comma": tmp_path / "comma.csv", "missing": tmp_path / "nope.csv"}
    argv = [a.format(**paths) for a in args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "model.train", *argv, "--out",
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [line for line in done.stderr.splitlines() if not line.startswith("import time:")]
    imported = [line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert done.returncode == 2 and len(lines) == 1 and re.match(match, lines[0]), done.stderr[-2000:]
    assert "model.data" in imported and not [m for m in imported if m.startswith("tensorflow")]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert cpu < 1.0, f"{cpu:.2f} s of CPU time"
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_cli_trains_an_mlp_and_records_its_family_and_shape(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    assert main(["--model", "mlp", "--hidden", "6,3", "--activation", "tanh", "--epochs", "2", "--out", str(out)]) == 0
    info = json.loads((out / "model.json").read_text())
    assert (info["format"], info["family"]) == ("mlp-checkpoint/1", "mlp")
    assert info["architecture"] == {"layer_widths": [30, 6, 3, 1], "activation": "tanh"}
    report = json.loads((out / "report.json").read_text())
    assert report["model"] == {"family": "mlp", "architecture": info["architecture"]}
    assert "model: mlp 30-6-3-1 tanh" in capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("hidden", ["32,x", "", "3.5"])
def test_cli_hidden_that_is_not_widths_is_a_usage_error(hidden: str, capsys) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--model", "mlp", "--hidden", hidden])
    assert caught.value.code == 2
    assert f"expected layer widths such as 32,16, got {hidden!r}" in capsys.readouterr().err


@pytest.mark.slow
def test_a_device_as_data_is_refused_at_once(tmp_path: Path) -> None:
    """The issue's case: `model.train --data /dev/zero` read 2.5 GB in 4.5 s and went on."""
    from benchmarks.common import run_measured

    try:
        run = run_measured([sys.executable, "-m", "model.train", "--data", "/dev/zero", "--out", str(tmp_path / "m")],
                           check=False, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("model.train --data /dev/zero still ran after 120 s")
    assert run["returncode"] == 2 and run["stderr"].count("\n") == 1
    says(run["stderr"], "DataError: /dev/zero", "not a file", "save the data to a file first")
    assert run["peak_rss_mib"] < 1000 and not (tmp_path / "m").exists()
