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
from model.config import DataSpec, FitConfig, validate_config
from model.data import Dataset, Split, class_balance, fingerprint, load_dataset, prepare, separate_test, split
from model.errors import DataError
from model.files import TRAINING_RUN, atomic_directory, package_versions, write_manifest
from model.fit import History, fit_classifier
from model.logistic import Classifier
from model.metrics import evaluate, threshold_curve, threshold_for_fnr
from model.report import write_report
from model.selection import DEFAULT_L2_GRID, cross_validate_l2
from model.tables import read_table

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
    config: FitConfig | None = None,
    data: DataSpec | str | Path | None = None,
    l2_cv: bool = False,
    cv_folds: int = 5,
    target_fnr: float | None = None,
    on_block: Any = None,
    on_step: Callable[[str], None] = lambda message: None,
) -> TrainResult:
    """Load the table (default: WDBC), split it, (optionally) pick L2 by CV, train and evaluate.

    ``data`` is a DataSpec, or just a path (a UCI ``wdbc.data`` or a table whose label is obvious).
    ``on_step(message)`` hears what the run is doing, before each long step.
    """
    config = config or FitConfig()
    validate_config(config, target_fnr, cv_folds)
    spec = data if isinstance(data, DataSpec) else DataSpec(path=None if data is None else str(data))
    on_step(f"reading {spec.path or 'the bundled WDBC copy'} ...")
    dataset = load_dataset(spec)
    rows = _split(dataset, spec)
    selection = None
    if l2_cv:
        _check_folds(dataset, rows, cv_folds)
        on_step(f"choosing l2 by {cv_folds}-fold CV on the {len(rows.y_train):,} training rows "
                f"({len(DEFAULT_L2_GRID)} strengths, {config.epochs} epochs each) ...")
        best, scores = cross_validate_l2(rows.x_train, rows.y_train, config, DEFAULT_L2_GRID, cv_folds, on_step)
        config = replace(config, l2=best)
        selection = {"method": f"{cv_folds}-fold stratified CV on training rows", "scores": scores, "chosen": best}
    on_step(f"training on {len(rows.y_train):,} rows x {dataset.x.shape[1]} features, {config.epochs} epochs ...")
    started = time.perf_counter()
    classifier, history, trainer = fit_classifier(
        rows.x_train, rows.y_train, rows.x_test, rows.y_test, config, on_block=on_block
    )
    seconds = time.perf_counter() - started
    # Metrics and the threshold use the outputs exactly as the exported model will serve them.
    train_out, test_out = classifier.outputs_in_blocks(rows.x_train), classifier.outputs_in_blocks(rows.x_test)
    train_logits, train_p = train_out["logit"], train_out["probability"]
    test_logits, test_p = test_out["logit"], test_out["probability"]
    threshold = 0.5 if target_fnr is None else threshold_for_fnr(rows.y_train, train_p, target_fnr)
    classifier.threshold.assign(threshold)
    report = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": asdict(config),
        "target_fnr": target_fnr,
        "threshold": threshold,
        "l2_selection": selection,
        "data": data_report(dataset, rows),
        "feature_names": list(dataset.feature_names),
        "feature_aliases": dataset.aliases,
        **dataset.labels.as_dict(),
        "metrics": {
            "train": evaluate(rows.y_train, train_logits, train_p, threshold),
            "test": evaluate(rows.y_test, test_logits, test_p, threshold),
        },
        "baseline_test": _baselines(rows, on_step),
        "history": history.values,
        "threshold_curve": threshold_curve(rows.y_train, train_p),
        "training_seconds": seconds,
        "trace_count": trainer.trace_count,
        "versions": package_versions(*VERSIONED),
    }
    return TrainResult(classifier, config, history, trainer.trace_count, report, dataset)


def _baselines(rows: Split, on_step: Callable[[str], None]) -> dict[str, Any]:
    on_step("fitting the scikit-learn baselines ...")
    return sklearn_baselines(rows.x_train, rows.y_train, rows.x_test, rows.y_test)


def _split(dataset: Dataset, spec: DataSpec) -> Split:
    if spec.test_path is None:
        return split(dataset, spec.test_fraction, spec.stratify)
    test_table = read_table(spec.test_path, spec.sep, spec.fmt)
    return separate_test(dataset, prepare(test_table, spec, like=dataset))


def _check_folds(dataset: Dataset, rows: Split, folds: int) -> None:
    for cls, value in ((1, dataset.labels.positive), (0, dataset.labels.negative)):
        count = int((rows.y_train == cls).sum())
        if count < folds:
            raise DataError(f"--l2 cv with {folds} folds needs at least {folds} training rows of each class; "
                            f"class {value!r} has {count}. Pass a smaller --cv-folds, or a number for --l2.")


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


