"""Tests for model.run: the default run's quality, the report, the threshold and CV choices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.fit import FitConfig
from model.run import train


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
                                "optimizer": "sgd", "stop": "epochs", "patience": 10, "tolerance": 1e-4}
    assert report["stopping"] == {"epochs": 200, "max_epochs": 200, "rule": "epochs", "converged": False,
                                  "reason": "ran the fixed 200 epochs (--stop epochs)"}


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.fixture(scope="module")
def iris_spec(tmp_path_factory):
    from sklearn.datasets import load_iris

    from model.config import DataSpec

    bunch = load_iris(as_frame=True)
    frame = bunch.frame
    frame["species"] = bunch.target_names[frame.pop("target")]
    path = tmp_path_factory.mktemp("iris") / "iris.csv"
    frame[frame.species != "setosa"].to_csv(path, index=False)
    return DataSpec(str(path), "species", "virginica")


@pytest.mark.slow
def test_a_table_of_ones_own_gets_the_converge_recipe_and_matches_scikit_learn(iris_spec) -> None:
    report = train(data=iris_spec).report
    assert report["recipe"] == "converge"
    assert report["config"]["optimizer"] == "adam" and report["config"]["l2"] == pytest.approx(1 / (2 * 75))
    assert report["stopping"]["converged"] and report["stopping"]["epochs"] < report["stopping"]["max_epochs"]
    assert report["stopping"]["reason"].startswith("converged: ")
    versus = report["versus_baseline"]
    assert abs(versus["relative"]) < 0.02 and not versus["worse"] and versus["advice"] is None


@pytest.mark.slow
def test_worse_than_the_baseline_is_said_with_the_flag_to_try(iris_spec) -> None:
    from model.config import Requested
    from model.report import summary

    report = train(Requested(recipe="tutorial", epochs=20), iris_spec).report
    versus = report["versus_baseline"]
    assert versus["worse"] and versus["relative"] > 0.02
    assert "--recipe converge" in versus["advice"]
    lines = summary(report, Path("out")).splitlines()
    assert any(line.startswith("note: ours is ") and "--recipe converge" in line for line in lines)
    # Out of epochs before converging: the advice is more epochs.
    report = train(Requested(epochs=3), iris_spec).report
    assert report["recipe"] == "converge" and not report["stopping"]["converged"]
    assert "larger --epochs" in report["stopping"]["reason"]


@pytest.mark.slow
def test_the_default_mlp_meets_the_quality_bar_and_a_second_run_gives_the_same_report(trained_mlp) -> None:
    test = trained_mlp.report["metrics"]["test"]
    assert test["n"] == 142 and test["accuracy"] >= 0.97 and test["log_loss"] <= 0.09
    assert trained_mlp.trace_count == 1
    assert trained_mlp.report["model"] == {"family": "mlp", "architecture": {"layer_widths": [30, 32, 16, 1],
                                                                             "activation": "relu"}}
    from model.families import ModelSpec

    again = train(FitConfig(), model_spec=ModelSpec.of("mlp")).report
    ignore = {"created", "training_seconds"}
    assert {k: v for k, v in again.items() if k not in ignore} == \
        {k: v for k, v in trained_mlp.report.items() if k not in ignore}


@pytest.mark.slow
def test_an_mlp_chooses_l2_by_cv_and_its_threshold_for_a_target_fnr_as_logistic_regression_does() -> None:
    from model.data import split
    from model.families import ModelSpec
    from model.metrics import threshold_for_fnr

    result = train(FitConfig(epochs=8), l2_cv=True, cv_folds=2, target_fnr=0.02,
                   model_spec=ModelSpec.of("mlp", hidden=(4,)))
    selection = result.report["l2_selection"]
    assert len(selection["scores"]) == 8 and result.report["config"]["l2"] == selection["chosen"]
    rows = split(result.dataset)
    train_p = result.classifier.outputs(rows.x_train)["probability"].numpy()
    assert result.report["threshold"] == threshold_for_fnr(rows.y_train, train_p, 0.02)
    assert result.report["metrics"]["train"]["fnr"] <= 0.02 and result.classifier.net.family == "mlp"


def test_a_network_worse_than_the_baseline_is_told_of_overfitting_not_to_train_longer() -> None:
    """An MLP converged on 331 rows of diabetes overfit (test log loss 1.03 against 0.46): the advice to converge
    further or lower --tolerance would make it worse."""
    from model.config import FitConfig
    from model.run import versus_baseline

    test, baselines = {"log_loss": 1.0}, {"LogisticRegression": {"log_loss": 0.5}}
    for config, converged in ((FitConfig(stop="plateau"), True), (FitConfig(stop="epochs"), False),
                              (FitConfig(stop="plateau"), False)):
        mlp = versus_baseline(test, baselines, config, None, converged, hidden_layers=True)
        assert mlp["worse"] and "--l2" in mlp["advice"] and "--model logreg" in mlp["advice"]
        assert not any(flag in mlp["advice"] for flag in ("--tolerance", "--recipe converge", "--epochs"))
    linear = versus_baseline(test, baselines, FitConfig(stop="plateau"), None, True)
    assert "--tolerance" in linear["advice"] and "--model logreg" not in linear["advice"]



def test_an_mlp_run_worse_than_the_baseline_gets_the_networks_advice(iris_spec) -> None:
    from model.config import Requested
    from model.families import ModelSpec

    report = train(Requested(recipe="tutorial", epochs=2), iris_spec, model_spec=ModelSpec.of("mlp", (4,))).report
    assert report["versus_baseline"]["worse"] and "--model logreg" in report["versus_baseline"]["advice"]
