"""One training run: data, split, optional L2 by CV, the compiled fit, metrics, report; saved atomically."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from model.baseline import sklearn_baselines
from model.checkpoint import save_classifier, save_reference_rows
from model.classifier import Classifier
from model.config import DataSpec, FitConfig, Requested, validate_config
from model.data import Dataset, Split, TrainingData, check_folds, class_balance, fingerprint, load_training_data
from model.families import ModelSpec
from model.files import TRAINING_RUN, atomic_directory, package_versions, write_manifest
from model.fit import CompiledTrainer, History, fit_classifier
from model.metrics import evaluate, threshold_curve, threshold_for_fnr
from model.report import write_report
from model.selection import DEFAULT_L2_GRID, cross_validate_l2

VERSIONED = ("tensorflow", "numpy", "pandas", "polars", "scikit-learn")


@dataclass
class TrainResult:
    """A trained classifier with everything the report and the export need."""

    classifier: Classifier
    config: FitConfig
    history: History
    trace_count: int
    report: dict[str, Any]
    dataset: Dataset


def train(
    config: FitConfig | Requested | None = None,
    data: TrainingData | DataSpec | str | Path | None = None,
    l2_cv: bool = False,
    cv_folds: int = 5,
    target_fnr: float | None = None,
    on_block: Any = None,
    on_step: Callable[[str], None] = lambda message: None,
    model_spec: ModelSpec = ModelSpec(),
) -> TrainResult:
    """Load the table (default: WDBC), split it, (optionally) pick L2 by CV, train and evaluate.

    ``config``: a FitConfig is used as it is; a Requested (or None) takes its recipe's values for what it leaves
    open (the tutorial's on WDBC, ``converge`` elsewhere). ``data`` is a TrainingData read already, a DataSpec,
    or just a path (a UCI ``wdbc.data`` or a table whose label is obvious).
    ``on_step(message)`` hears what the run is doing, before each long step. ``model_spec`` is the model family and
    its shape (default: the tutorial's logistic regression).
    """
    if not isinstance(data, TrainingData):
        spec = data if isinstance(data, DataSpec) else DataSpec(path=None if data is None else str(data))
        on_step(f"reading {spec.path or 'the bundled WDBC copy'} ...")
        data = load_training_data(spec)
    dataset, rows = data.dataset, data.rows
    requested = Requested() if config is None else config
    recipe = requested.recipe_for(dataset.wdbc) if isinstance(requested, Requested) else None
    config = requested.resolve(dataset.wdbc, len(rows.y_train)) if isinstance(requested, Requested) else requested
    validate_config(config, target_fnr, cv_folds)
    selection = None
    if l2_cv:
        check_folds(data, cv_folds)
        on_step(f"choosing l2 by {cv_folds}-fold CV on the {len(rows.y_train):,} training rows "
                f"({len(DEFAULT_L2_GRID)} strengths, {_epochs(config)} each) ...")
        best, scores = cross_validate_l2(rows.x_train, rows.y_train, config, DEFAULT_L2_GRID, cv_folds, on_step,
                                         model_spec)
        config = replace(config, l2=best)
        selection = {"method": f"{cv_folds}-fold stratified CV on training rows", "scores": scores, "chosen": best}
    on_step(f"training {model_spec.describe(dataset.x.shape[1])} on {len(rows.y_train):,} rows x "
            f"{dataset.x.shape[1]} features, {_epochs(config)} ...")
    started = time.perf_counter()
    classifier, history, trainer = fit_classifier(
        rows.x_train, rows.y_train, rows.x_test, rows.y_test, config, model_spec, on_block=on_block
    )
    seconds = time.perf_counter() - started
    # Metrics and the threshold use the outputs exactly as the exported model will serve them.
    train_out, test_out = classifier.outputs_in_blocks(rows.x_train), classifier.outputs_in_blocks(rows.x_test)
    train_logits, train_p = train_out["logit"], train_out["probability"]
    test_logits, test_p = test_out["logit"], test_out["probability"]
    threshold = 0.5 if target_fnr is None else threshold_for_fnr(rows.y_train, train_p, target_fnr)
    classifier.threshold.assign(threshold)
    metrics = {
        "train": evaluate(rows.y_train, train_logits, train_p, threshold),
        "test": evaluate(rows.y_test, test_logits, test_p, threshold),
    }
    baselines = _baselines(rows, on_step)
    report = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "recipe": recipe,
        "config": asdict(config),
        "model": {"family": model_spec.family, "architecture": model_spec.architecture(dataset.x.shape[1])},
        "target_fnr": target_fnr,
        "threshold": threshold,
        "l2_selection": selection,
        "data": data_report(dataset, rows),
        "feature_names": list(dataset.feature_names),
        "feature_aliases": dataset.aliases,
        **dataset.labels.as_dict(),
        "metrics": metrics,
        "baseline_test": baselines,
        "versus_baseline": versus_baseline(metrics["test"], baselines, config, recipe, trainer.stopped,
                                           hidden_layers=bool(model_spec.hidden)),
        "stopping": stopping(config, history, trainer),
        "history": history.values,
        "threshold_curve": threshold_curve(rows.y_train, train_p),
        "training_seconds": seconds,
        "trace_count": trainer.trace_count,
        "versions": package_versions(*VERSIONED),
    }
    return TrainResult(classifier, config, history, trainer.trace_count, report, dataset)


def _epochs(config: FitConfig) -> str:
    if config.stop == "plateau":
        return f"until the loss stops falling (at most {config.epochs:,} epochs)"
    return f"{config.epochs:,} epochs"


def stopping(config: FitConfig, history: History, trainer: CompiledTrainer) -> dict[str, Any]:
    """How many epochs ran and why the run stopped: the report's ``stopping`` section."""
    if config.stop == "epochs":
        reason = f"ran the fixed {config.epochs:,} epochs (--stop epochs)"
    elif trainer.stopped:
        reason = (f"converged: the training objective fell by less than {config.tolerance:g} of itself in "
                  f"{config.patience} epochs, after the step was cut {trainer.plateau.rule.cuts}x to "
                  f"{float(trainer.optimizer.learning_rate.numpy()):.3g}")
    else:
        reason = (f"reached --epochs {config.epochs:,} while the training objective was still falling; pass a "
                  "larger --epochs")
    return {"epochs": history.epochs, "max_epochs": config.epochs, "rule": config.stop,
            "converged": trainer.stopped, "reason": reason}


#: Worse than the baseline's test log loss by more than this share is called out in the closing lines.
WORSE_BY = 0.02


def versus_baseline(test: dict[str, Any], baselines: dict[str, Any], config: FitConfig, recipe: str | None,
                    converged: bool, hidden_layers: bool = False) -> dict[str, Any] | None:
    """Our test log loss against scikit-learn's LogisticRegression(C=1) on the same split, and what to try
    when ours is worse by more than WORSE_BY."""
    base = baselines.get("LogisticRegression")
    if base is None or base["log_loss"] is None or test["log_loss"] is None:
        return None
    ours, theirs = test["log_loss"], base["log_loss"]
    relative = ours / theirs - 1.0 if theirs > 0 else 0.0
    out = {"metric": "test log loss", "baseline": "LogisticRegression (C=1, standardized)", "ours": ours,
           "baseline_value": theirs, "relative": relative, "worse": relative > WORSE_BY, "advice": None}
    if out["worse"]:
        out["advice"] = _advice(config, recipe, converged, hidden_layers)
    return out


def _advice(config: FitConfig, recipe: str | None, converged: bool, hidden_layers: bool = False) -> str:
    if hidden_layers:
        # A network with hidden layers can fit the training rows: worse on the test rows than a linear model is
        # overfitting (diabetes: 1.03 against 0.46 when converged; 0.81, train 0.04, after 5,000 epochs that had not
        # converged), and training longer would make it worse.
        return ("a network with hidden layers can fit the training rows and overfit them: try a larger --l2 (or "
                "--l2 cv to choose it), or --model logreg, whose test log loss is the baseline's")
    if config.stop == "epochs":
        return ("train until the loss stops falling with scikit-learn's penalty: --recipe converge (Adam, stop on a "
                "plateau, l2 as C=1)" + (" (this was the tutorial's recipe)" if recipe == "tutorial" else ""))
    if not converged:
        return f"the run reached --epochs {config.epochs:,} before converging: pass a larger --epochs"
    return ("the fit converged, so the difference is the model's settings: try --l2 cv to choose the penalty, or "
            "a smaller --tolerance")


def _baselines(rows: Split, on_step: Callable[[str], None]) -> dict[str, Any]:
    on_step("fitting the scikit-learn baselines ...")
    return sklearn_baselines(rows.x_train, rows.y_train, rows.x_test, rows.y_test)


def data_report(dataset: Dataset, rows: Split) -> dict[str, Any]:
    """Where the data came from and what was done with it: the report's ``data`` section."""
    return {
        "source": dataset.source,
        "fingerprint_sha256": fingerprint(dataset),
        "rows": len(dataset.y),
        "train_rows": len(rows.y_train),
        "test_rows": len(rows.y_test),
        "split": rows.method,
        "label_column": dataset.labels.column,
        "positive_class": dataset.labels.positive,
        "negative_class": dataset.labels.negative,
        "class_balance": {part: class_balance(dataset.labels, y) for part, y in
                          (("all", dataset.y), ("train", rows.y_train), ("test", rows.y_test))},
        "n_features": len(dataset.feature_names),
        "features": list(dataset.feature_names),
        "na_values": list(dataset.na_values),
        "decimal": dataset.decimal,
        **dataset.notes,
    }


def save_run(result: TrainResult, out: str | Path, inputs: Mapping[str, str | Path | None] | None = None) -> Path:
    """Write checkpoint, model.json, reference rows, report.json, plots and their manifest to ``out`` atomically.

    ``out`` must be new, an empty folder or an earlier training run, and must not hold or lie inside ``inputs``
    (flag -> path: the data the run was read from; default: the training table)."""
    report = result.report
    info = {
        "feature_names": report["feature_names"],
        "feature_aliases": report["feature_aliases"],
        "id_columns": report["data"]["id_columns"],
        "na_values": list(report["data"]["na_values"]),
        "decimal": report["data"]["decimal"],
        "threshold": report["threshold"],
        **result.dataset.labels.as_dict(),
        "metrics": {split: _headline(m) for split, m in report["metrics"].items()},
        "data_fingerprint_sha256": report["data"]["fingerprint_sha256"],
        "config": report["config"],
        "versions": report["versions"],
        "created": report["created"],
    }
    inputs = {"--data": result.dataset.source} if inputs is None else inputs
    with atomic_directory(out, TRAINING_RUN, inputs) as staging:
        save_classifier(result.classifier, staging, info)
        save_reference_rows(result.dataset.x, staging)
        write_report(staging, report)
        write_manifest(staging)  # last: it fingerprints every file above
    return Path(out)


def _headline(m: dict[str, Any]) -> dict[str, Any]:
    keys = ("n", "log_loss", "accuracy", "roc_auc", "fpr", "fnr")
    return {k: m[k] for k in keys}


