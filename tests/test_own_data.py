"""Your own data, end to end: real tables that packages ship go through train -> export -> score on both runtimes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from export.pipeline import export_model
from model.fit import FitConfig
from model.train import main as train_main
from scoring.batch import main as score_main
from scoring.batch import score_csv
from scoring.errors import InputError

FAST = ["--epochs", "60", "--learning-rate", "0.1", "--quiet"]


@pytest.fixture(scope="module")
def iris_csv(tmp_path_factory) -> Path:
    """scikit-learn's iris with its own column names ('sepal length (cm)', ...) and the species as text."""
    from sklearn.datasets import load_iris

    bunch = load_iris(as_frame=True)
    frame = pl.from_pandas(bunch.frame.drop(columns="target")).with_columns(
        pl.Series("species", np.asarray(bunch.target_names)[bunch.target.to_numpy()]))
    path = tmp_path_factory.mktemp("iris") / "iris.csv"
    frame.write_csv(path)
    return path


@pytest.fixture(scope="module")
def iris_two_species(iris_csv: Path) -> Path:
    path = iris_csv.with_name("iris2.csv")
    pl.read_csv(iris_csv).filter(pl.col("species") != "setosa").write_csv(path)
    return path


@pytest.fixture(scope="module")
def iris_export(iris_two_species: Path, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("iris-model")
    assert train_main(["--data", str(iris_two_species), "--label", "species", "--positive", "virginica",
                       "--stratify", "--out", str(root / "model"), *FAST]) == 0
    export_model(root / "model", root / "export")
    return root / "export"


def test_three_species_are_refused_with_counts(iris_csv: Path, tmp_path: Path, capsys) -> None:
    assert train_main(["--data", str(iris_csv), "--label", "species", "--out", str(tmp_path / "m"), *FAST]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "expected exactly two classes, found 3: 'setosa' (50 rows, first at line 2)" in err[0]
    assert "Only binary classification is supported" in err[0] and not (tmp_path / "m").exists()


@pytest.mark.slow
def test_iris_model_metadata_carries_the_users_names_and_classes(iris_export: Path) -> None:
    import onnxruntime as ort

    meta = ort.InferenceSession(str(iris_export / "model.onnx")).get_modelmeta().custom_metadata_map
    assert json.loads(meta["feature_names"]) == ["sepal length (cm)", "sepal width (cm)", "petal length (cm)",
                                                 "petal width (cm)"]
    assert (meta["label_column"], meta["positive_class"], meta["negative_class"]) == ("species", "virginica",
                                                                                     "versicolor")
    assert json.loads(meta["n_features"]) == 4 and json.loads(meta["feature_aliases"]) == {}
    report = json.loads((iris_export / "parity.json").read_text())
    assert report["comparisons"]["reference/whole/tf-vs-onnx"]["rows"] == 100  # the user's own rows
    assert report["passed"]


def test_iris_scores_on_both_runtimes_with_class_values(iris_export: Path, iris_two_species: Path,
                                                        tmp_path: Path, capsys) -> None:
    outputs = {}
    for runtime in ("onnx", "tf"):
        out = tmp_path / f"{runtime}.csv"
        assert score_main([str(iris_two_species), str(out), "--model", str(iris_export), "--runtime", runtime,
                           "--keep", "species", "--label-values", "--quiet"]) == 0
        outputs[runtime] = pl.read_csv(out)
    onnx, tf = outputs["onnx"], outputs["tf"]
    assert onnx.columns == ["species", "probability", "label", "predicted_species"]
    assert onnx["label"].equals(tf["label"]) and onnx["predicted_species"].equals(tf["predicted_species"])
    np.testing.assert_allclose(onnx["probability"], tf["probability"], atol=1e-6, rtol=0)
    assert onnx.filter(pl.col("label") == 1)["predicted_species"].unique().to_list() == ["virginica"]
    assert (onnx["predicted_species"] == onnx["species"]).mean() > 0.9  # it learnt something


@pytest.fixture(scope="module")
def diabetes_csv(tmp_path_factory) -> Path:
    """scikit-learn's diabetes table, its target cut at the 80th percentile (imbalanced), with missing values."""
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(as_frame=True)
    frame = pl.from_pandas(bunch.frame)
    high = frame["target"] > frame["target"].quantile(0.8)
    frame = frame.drop("target").with_columns(pl.Series("progression", np.where(high, "high", "low")),
                                              pl.Series("patient", range(1, frame.height + 1)))
    frame = frame.with_columns(pl.when(pl.int_range(pl.len()) % 50 == 7).then(None).otherwise(pl.col("bmi"))
                               .alias("bmi"))
    path = tmp_path_factory.mktemp("diabetes") / "diabetes.tsv"
    frame.write_csv(path, separator="\t")
    return path


@pytest.mark.slow
def test_imbalanced_table_with_missing_values(diabetes_csv: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "model"
    args = ["--data", str(diabetes_csv), "--label", "progression", "--positive", "high", "--id", "patient",
            "--out", str(out), *FAST]
    assert train_main(args) == 2
    err = capsys.readouterr().err
    assert "missing values in 1 column: 'bmi' 9 rows (first at line 9). Pass --missing drop" in err
    assert train_main([*args, "--missing", "drop", "--stratify", "--target-fnr", "0.1"]) == 0
    report = json.loads((out / "report.json").read_text())
    data = report["data"]
    assert data["rows_dropped_missing"] == {"rows": 9, "per_column": {"bmi": 9}}
    assert data["rows"] == 433 and data["class_balance"]["all"] == {"high": 88, "low": 345}
    assert "patient" not in data["features"] and data["n_features"] == 10
    assert report["metrics"]["train"]["fnr"] <= 0.1
    export_model(out, tmp_path / "export")
    # Scoring refuses the rows with a missing value, by line and column, unless told to skip them.
    scored = tmp_path / "scored.csv"
    assert score_main([str(diabetes_csv), str(scored), "--model", str(tmp_path / "export"), "--quiet"]) == 2
    assert "line 9, column 3 ('bmi'): expected a number, got an empty value" in capsys.readouterr().err
    summary = score_csv(diabetes_csv, scored, model=tmp_path / "export", on_error="skip", keep=["patient"])
    assert (summary.rows, summary.rejected) == (433, 9)


def test_default_wdbc_run_is_unchanged(trained) -> None:
    """The README's numbers: same split, same weights, same metrics as before any of this existed."""
    test = trained.report["metrics"]["test"]
    assert (round(test["accuracy"], 4), round(test["log_loss"], 4), round(test["roc_auc"], 4)) == \
        (0.9859, 0.0714, 0.9941)
    assert (test["fpr"], round(test["fnr"], 3)) == (0.0, 0.036)
    assert trained.config == FitConfig()


@pytest.mark.slow
def test_the_default_run_through_the_recipe_is_the_tutorials_bit_for_bit(trained) -> None:
    """No config at all (the CLI's path): WDBC gets the tutorial's recipe, and the same weights to the last bit."""
    from model.run import train

    default = train()
    assert default.report["recipe"] == "tutorial" and default.config == FitConfig()
    for a, b in ((default.classifier.logistic.w, trained.classifier.logistic.w),
                 (default.classifier.logistic.b, trained.classifier.logistic.b)):
        assert a.numpy().tobytes() == b.numpy().tobytes()


@pytest.fixture(scope="module")
def european(tmp_path_factory) -> tuple[Path, Path]:
    """A ';' table with decimal commas, 'NA' and '?' for missing values, a customer_id, a quoted text column;
    trained with --decimal , --missing drop, and exported."""
    rng = np.random.default_rng(4)
    rows = 120
    a, b = rng.normal(50, 10, rows).round(1), rng.normal(0, 1, rows).round(2)
    y = np.where(a / 10 + b + rng.normal(0, 1, rows) > 5, "ja", "nein")
    cells_a = [f"{v}".replace(".", ",") for v in a]
    cells_b = [f"{v}".replace(".", ",") for v in b]
    cells_a[5], cells_b[9], cells_b[20] = "NA", "?", ""
    lines = ["customer_id;note;a;b;kauf"] + [f'C{i:04d};"gut; sehr";{cells_a[i]};{cells_b[i]};{y[i]}'
                                             for i in range(rows)]
    root = tmp_path_factory.mktemp("european")
    path = root / "kunden.csv"
    path.write_text("\n".join(lines) + "\n")
    assert train_main(["--data", str(path), "--label", "kauf", "--positive", "ja", "--decimal", ",", "--missing",
                       "drop", "--out", str(root / "model"), "--quiet"]) == 0
    export_model(root / "model", root / "export")
    return path, root


@pytest.mark.slow
def test_a_row_parses_the_same_at_training_and_at_scoring_time(european, runtime_name: str, tmp_path: Path) -> None:
    """Decimal commas and the training table's missing-value spellings, read from the model's metadata by the
    scorer: every complete row scores as the trained model scores its training values, on both engines; the rows
    with 'NA', '?' or an empty value are rejected as missing, their records kept as they were in the file."""
    from model.checkpoint import load_classifier
    from model.config import DataSpec
    from model.data import load_dataset

    path, root = european
    runtime = runtime_name
    report = json.loads((root / "model" / "report.json").read_text())
    assert report["data"]["id_columns"] == ["customer_id"] and report["data"]["features"] == ["a", "b"]
    classifier, _ = load_classifier(root / "model")
    data = load_dataset(DataSpec(str(path), "kauf", "ja", decimal=",", missing="drop"))
    expected = classifier.outputs(data.x)["probability"].numpy()
    complete = tmp_path / "complete.csv"
    lines = path.read_text().splitlines()
    complete.write_text("\n".join(line for i, line in enumerate(lines) if i - 1 not in (5, 9, 20)) + "\n")
    for engine in ("auto", "blocks"):
        out = tmp_path / f"{engine}.csv"
        summary = score_csv(complete, out, model=root / "export", runtime=runtime, engine=engine)
        assert summary.stages["engine"] == ("polars-streaming" if engine == "auto" else "blocks")
        scored = pl.read_csv(out)
        assert scored.columns == ["customer_id", "probability", "label"]  # the model's id, passed through
        np.testing.assert_allclose(scored["probability"].to_numpy(), expected, rtol=2e-7, atol=0)
    out = tmp_path / "all.csv"
    summary = score_csv(path, out, model=root / "export", runtime=runtime, on_error="skip")
    assert (summary.rows, summary.rejected) == (117, 3)
    rejects = pl.read_csv(tmp_path / "all.csv.rejects.csv")
    assert rejects["line"].to_list() == [7, 11, 22]
    assert rejects["reason"].to_list() == ["expected a number, got a missing value ('NA')",
                                           "expected a number, got a missing value ('?')",
                                           "expected a number, got an empty value"]
    assert rejects["record"].to_list() == [lines[6], lines[10], lines[21]]  # ';' and quotes as in the file
    # --na-values none: 'NA' is text again, not a number.
    with pytest.raises(InputError, match=r"line 7, column 3 \('a'\): expected a number, got 'NA'"):
        score_csv(path, tmp_path / "none.csv", model=root / "export", runtime=runtime, na_values=())
