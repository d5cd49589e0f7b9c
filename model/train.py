"""The training pipeline and its CLI: ``python -m model.train``."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from model.baseline import sklearn_baselines
from model.checkpoint import save_classifier, save_reference_rows
from model.data import (
    MISSING, DataSpec, Dataset, Split, class_balance, fingerprint, load_dataset, prepare, separate_test, split,
)
from model.errors import ConfigError, DataError
from model.files import atomic_directory, check_writable_parent, package_versions, write_manifest
from model.fit import FitConfig, History, fit_classifier
from model.logistic import Classifier
from model.metrics import evaluate, threshold_for_fnr, threshold_curve
from model.optimizers import OPTIMIZERS, choices
from model.report import PLOTS, write_report
from model.selection import DEFAULT_L2_GRID, cross_validate_l2
from model.tables import FORMATS, read_table
from scoring.sources import separator_option

DEFAULT_OUT = Path("artifacts/model")
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


def validate_config(config: FitConfig, target_fnr: float | None, cv_folds: int) -> None:
    """Raise ConfigError naming the first option that is out of range."""
    checks = [
        (config.epochs >= 1, f"--epochs must be a positive integer, got {config.epochs}."),
        (config.learning_rate > 0 and np.isfinite(config.learning_rate),
         f"--learning-rate must be a finite number > 0, got {config.learning_rate}."),
        (config.batch_size >= 1, f"--batch-size must be a positive integer, got {config.batch_size}."),
        (config.l2 >= 0 and np.isfinite(config.l2), f"--l2 must be a finite number >= 0 or 'cv', got {config.l2}."),
        (config.seed >= 0, f"--seed must be a non-negative integer, got {config.seed}."),
        (config.optimizer in OPTIMIZERS, f"--optimizer must be one of {choices()}, got {config.optimizer!r}."),
        (target_fnr is None or 0.0 <= target_fnr <= 1.0, f"--target-fnr must be in [0, 1], got {target_fnr}."),
        (cv_folds >= 2, f"--cv-folds must be at least 2, got {cv_folds}."),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)


def train(
    config: FitConfig | None = None,
    data: DataSpec | str | Path | None = None,
    l2_cv: bool = False,
    cv_folds: int = 5,
    target_fnr: float | None = None,
    on_block: Any = None,
) -> TrainResult:
    """Load the table (default: WDBC), split it, (optionally) pick L2 by CV, train and evaluate.

    ``data`` is a DataSpec, or just a path (a UCI ``wdbc.data`` or a table whose label is obvious).
    """
    config = config or FitConfig()
    validate_config(config, target_fnr, cv_folds)
    spec = data if isinstance(data, DataSpec) else DataSpec(path=None if data is None else str(data))
    dataset = load_dataset(spec)
    rows = _split(dataset, spec)
    selection = None
    if l2_cv:
        _check_folds(dataset, rows, cv_folds)
        best, scores = cross_validate_l2(rows.x_train, rows.y_train, config, DEFAULT_L2_GRID, cv_folds)
        config = replace(config, l2=best)
        selection = {"method": f"{cv_folds}-fold stratified CV on training rows", "scores": scores, "chosen": best}
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
        "baseline_test": sklearn_baselines(rows.x_train, rows.y_train, rows.x_test, rows.y_test),
        "history": history.values,
        "threshold_curve": threshold_curve(rows.y_train, train_p),
        "training_seconds": seconds,
        "trace_count": trainer.trace_count,
        "versions": package_versions(*VERSIONED),
    }
    return TrainResult(classifier, config, history, trainer.trace_count, report, dataset)


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


def save_run(result: TrainResult, out: str | Path) -> Path:
    """Write checkpoint, model.json, reference rows, report.json, plots and their manifest to ``out`` atomically."""
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
    with atomic_directory(out) as staging:
        save_classifier(result.classifier, staging, info)
        save_reference_rows(result.dataset.x, staging)
        write_report(staging, report)
        write_manifest(staging)  # last: it fingerprints every file above
    return Path(out)


def _headline(m: dict[str, Any]) -> dict[str, Any]:
    keys = ("n", "log_loss", "accuracy", "roc_auc", "fpr", "fnr")
    return {k: m[k] for k in keys}


def _l2_option(text: str) -> float | str:
    if text == "cv":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0 or 'cv', got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    defaults = FitConfig()
    parser = argparse.ArgumentParser(
        prog="python -m model.train",
        description="Train a logistic-regression classifier with a graph-compiled loop, on WDBC (the default) "
                    "or on your own numeric binary-classification table.",
    )
    parser.add_argument("--epochs", type=int, default=defaults.epochs, help="passes over the training rows (default: %(default)s)")
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate, help="gradient-descent step (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size, help="minibatch rows (default: %(default)s)")
    parser.add_argument("--optimizer", default=defaults.optimizer,
                        help="update rule: 'sgd' (the tutorial's) or 'adam' (per-weight step sizes: with a large "
                             "--batch-size it needs far fewer epochs than sgd) (default: %(default)s)")
    parser.add_argument("--l2", type=_l2_option, default=defaults.l2,
                        help="L2 strength (penalty l2*sum(w^2)), or 'cv' to choose it by k-fold CV on the training rows")
    parser.add_argument("--cv-folds", type=int, default=5, help="folds for --l2 cv (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed for weights and shuffling (default: %(default)s)")
    parser.add_argument("--target-fnr", type=float, default=None,
                        help="choose the highest threshold whose training FNR is at most this (default: threshold 0.5)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (default: %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress, only errors")
    add_data_options(parser.add_argument_group("data (default: the WDBC copy bundled with scikit-learn)"))
    return parser


def _names(text: str) -> tuple[str, ...]:
    return tuple(name for name in (n.strip() for n in text.split(",")) if name)


def add_data_options(group: Any) -> None:
    """The options that say what to train on: one DataSpec field each."""
    defaults = DataSpec()
    group.add_argument("--data", default=None, metavar="PATH_OR_URL",
                       help="CSV/TSV (.gz/.bz2 ok), Parquet, or UCI's headerless wdbc.data; a path or URL")
    group.add_argument("--label", default=None, metavar="COLUMN", help="the column to predict (two distinct values)")
    group.add_argument("--positive", default=None, metavar="VALUE",
                       help="the label value that is class 1 (needed unless the values are 0/1 or false/true)")
    which = group.add_mutually_exclusive_group()
    which.add_argument("--features", type=_names, default=None, metavar="A,B,...",
                       help="exactly these feature columns, in this order (default: every numeric column except "
                            "the label and the id)")
    which.add_argument("--exclude", type=_names, default=(), metavar="A,B,...", help="columns that are not features")
    group.add_argument("--id", dest="id_column", default=None, metavar="COLUMN",
                       help="an id column, never a feature (default: a column named 'id')")
    group.add_argument("--sep", type=separator_option, default=None,
                       help="field separator: , ; | or tab (default: sniffed from the header)")
    group.add_argument("--format", dest="fmt", choices=FORMATS, default=defaults.fmt,
                       help="file format (default: from the name, .parquet, or the first line, UCI's wdbc.data)")
    group.add_argument("--missing", choices=MISSING, default=defaults.missing,
                       help="rows with a missing feature or label value: error (default) or drop them")
    group.add_argument("--test", dest="test_path", default=None, metavar="PATH_OR_URL",
                       help="a separate test table with the same columns (default: split --data)")
    group.add_argument("--test-fraction", type=float, default=defaults.test_fraction,
                       help="share of the rows held out for testing (default: %(default)s)")
    group.add_argument("--stratify", action="store_true", help="keep the class ratio in the training and test rows")


def data_spec(args: argparse.Namespace) -> DataSpec:
    """The DataSpec the parsed data options describe."""
    return DataSpec(args.data, args.label, args.positive, args.features, args.exclude, args.id_column, args.sep,
                    args.fmt, args.missing, args.test_path, args.test_fraction, args.stratify)


def _progress(total: int, quiet: bool) -> Any:
    if quiet:
        return None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=total, unit="epoch", file=sys.stderr)

        def update_bar(done: int, history: History) -> None:
            bar.update(done - bar.n)
            bar.set_postfix(test_loss=f"{history.values['eval_log_loss'][-1]:.4f}")
            if done == total:
                bar.close()

        return update_bar

    def log_line(done: int, history: History) -> None:
        v = {k: values[-1] for k, values in history.values.items()}
        print(f"epoch {done:>4}/{total}: train log loss {v['train_log_loss']:.4f} acc {v['train_accuracy']:.4f}"
              f" | test log loss {v['eval_log_loss']:.4f} acc {v['eval_accuracy']:.4f}", file=sys.stderr)

    return log_line


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    l2_cv = args.l2 == "cv"
    config = FitConfig(args.epochs, args.learning_rate, args.batch_size, 0.0 if l2_cv else args.l2, args.seed,
                       args.optimizer)
    try:
        validate_config(config, args.target_fnr, args.cv_folds)
        check_writable_parent(args.out)
        result = train(config, data_spec(args), l2_cv, args.cv_folds, args.target_fnr,
                       _progress(config.epochs, args.quiet))
        save_run(result, args.out)
    except (ConfigError, DataError, OSError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(summary(result.report, args.out))
    return 0


def summary(report: dict[str, Any], out: Path) -> str:
    """What was trained on, final metrics beside scikit-learn's, and what was written where."""
    data = report["data"]
    balance = data["class_balance"]["all"]
    lines = [f"data: {data['source']}: {data['rows']:,} rows ({data['train_rows']:,} train, {data['test_rows']:,} test), "
             f"{data['n_features']} features; label {data['label_column']!r}: class 1 = {data['positive_class']!r} "
             f"({balance[str(data['positive_class'])]:,} rows), class 0 = {data['negative_class']!r} "
             f"({balance[str(data['negative_class'])]:,} rows)"]
    lines += [f"note: {text}" for text in data_notes(data)]
    rows = [("ours (test)", report["metrics"]["test"])]
    rows += [(f"sklearn {name} (test)", m) for name, m in report["baseline_test"].items()]
    lines.append(f"{'model':<38} {'accuracy':>8} {'log loss':>8} {'ROC AUC':>8} {'FPR':>6} {'FNR':>6}")
    for name, m in rows:
        cells = [_cell(m[k], width, digits) for k, width, digits in
                 (("accuracy", 8, 4), ("log_loss", 8, 4), ("roc_auc", 8, 4), ("fpr", 6, 3), ("fnr", 6, 3))]
        lines.append(f"{name:<38} {' '.join(cells)}")
    lines.append(f"threshold {report['threshold']:.6g}, l2 {report['config']['l2']:g}, "
                 f"trained in {report['training_seconds']:.2f} s (traced {report['trace_count']}x)")
    lines.append(f"wrote {out}/: model.json, checkpoint/, reference_rows.npy, report.json, {', '.join(PLOTS)}, manifest.json")
    return "\n".join(lines)


def _cell(value: float | None, width: int, digits: int) -> str:
    """A metric for the summary table; n/a where it is undefined (a class absent from the test rows)."""
    return f"{'n/a':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def data_notes(data: dict[str, Any]) -> list[str]:
    """What a user should know about their data: constant, skipped and incomplete columns."""
    notes = []
    if data["constant_columns"]:
        notes.append(f"constant columns (they carry no information): {', '.join(map(repr, data['constant_columns']))}")
    if data["skipped_non_numeric_columns"]:
        notes.append("skipped columns that are not numeric: "
                     f"{', '.join(map(repr, data['skipped_non_numeric_columns']))} (pass --features to choose)")
    if data["rows_dropped_missing"]:
        dropped = data["rows_dropped_missing"]
        notes.append(f"dropped {dropped['rows']:,} rows with missing values (--missing drop): "
                     + ", ".join(f"{k!r} {v:,}" for k, v in dropped["per_column"].items()))
    return notes


if __name__ == "__main__":
    sys.exit(main())
