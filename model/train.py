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
from model.checkpoint import save_classifier
from model.data import BUNDLED, FEATURE_NAMES, LABEL_MEANING, fingerprint, load_wdbc, split
from model.errors import ConfigError, DataError
from model.files import atomic_directory, check_writable_parent, package_versions
from model.fit import FitConfig, History, fit_classifier
from model.logistic import Classifier
from model.metrics import evaluate, threshold_for_fnr, threshold_curve
from model.optimizers import OPTIMIZERS, choices
from model.report import PLOTS, write_report
from model.selection import DEFAULT_L2_GRID, cross_validate_l2

DEFAULT_OUT = Path("artifacts/model")
VERSIONED = ("tensorflow", "numpy", "pandas", "scikit-learn")


@dataclass
class TrainResult:
    """A trained classifier with everything the report and the export need."""

    classifier: Classifier
    config: FitConfig
    history: History
    trace_count: int
    report: dict[str, Any]


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
    config: FitConfig = FitConfig(),
    data: str | Path | None = None,
    l2_cv: bool = False,
    cv_folds: int = 5,
    target_fnr: float | None = None,
    on_block: Any = None,
) -> TrainResult:
    """Load WDBC, split it as the tutorial does, (optionally) pick L2 by CV, train and evaluate."""
    validate_config(config, target_fnr, cv_folds)
    frame = load_wdbc(data)
    rows = split(frame)
    selection = None
    if l2_cv:
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
        "data": {
            "source": str(data) if data is not None else BUNDLED,
            "fingerprint_sha256": fingerprint(frame),
            "rows": len(frame),
            "train_rows": len(rows.y_train),
            "test_rows": len(rows.y_test),
            "split": "frame.sample(frac=0.75, random_state=1); test = the remaining rows",
        },
        "feature_names": list(FEATURE_NAMES),
        "label_meaning": {str(k): v for k, v in LABEL_MEANING.items()},
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
    return TrainResult(classifier, config, history, trainer.trace_count, report)


def save_run(result: TrainResult, out: str | Path) -> Path:
    """Write checkpoint, model.json, report.json and plots to ``out`` atomically."""
    report = result.report
    info = {
        "feature_names": report["feature_names"],
        "threshold": report["threshold"],
        "label_meaning": report["label_meaning"],
        "metrics": {split: _headline(m) for split, m in report["metrics"].items()},
        "data_fingerprint_sha256": report["data"]["fingerprint_sha256"],
        "config": report["config"],
        "versions": report["versions"],
        "created": report["created"],
    }
    with atomic_directory(out) as staging:
        save_classifier(result.classifier, staging, info)
        write_report(staging, report)
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
        description="Train the WDBC logistic-regression classifier with a graph-compiled loop.",
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
    parser.add_argument("--data", default=None, help="UCI-format wdbc.data path or URL (default: the copy bundled with scikit-learn)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (default: %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress, only errors")
    return parser


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
        result = train(config, args.data, l2_cv, args.cv_folds, args.target_fnr, _progress(config.epochs, args.quiet))
        save_run(result, args.out)
    except (ConfigError, DataError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(summary(result.report, args.out))
    return 0


def summary(report: dict[str, Any], out: Path) -> str:
    """Final metrics beside scikit-learn's, and what was written where."""
    rows = [("ours (test)", report["metrics"]["test"])]
    rows += [(f"sklearn {name} (test)", m) for name, m in report["baseline_test"].items()]
    lines = [f"{'model':<38} {'accuracy':>8} {'log loss':>8} {'ROC AUC':>8} {'FPR':>6} {'FNR':>6}"]
    for name, m in rows:
        lines.append(f"{name:<38} {m['accuracy']:>8.4f} {m['log_loss']:>8.4f} {m['roc_auc']:>8.4f} {m['fpr']:>6.3f} {m['fnr']:>6.3f}")
    lines.append(f"threshold {report['threshold']:.6g}, l2 {report['config']['l2']:g}, "
                 f"trained in {report['training_seconds']:.2f} s (traced {report['trace_count']}x)")
    lines.append(f"wrote {out}/: model.json, checkpoint/, report.json, {', '.join(PLOTS)}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
