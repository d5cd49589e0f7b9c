"""The training report: report.json and PNG plots (curves, confusion matrices, FPR/FNR vs threshold)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")  # Headless: no display on servers or CI.
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from model.families import ModelSpec  # noqa: E402

PLOTS = ("training_curves.png", "confusion_matrices.png", "threshold_tradeoff.png")


def write_report(directory: Path, report: dict[str, Any]) -> None:
    """Write report.json and the plots into ``directory``."""
    (directory / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    plot_curves(report["history"], directory / PLOTS[0])
    classes = (report["label_meaning"]["0"], report["label_meaning"]["1"])
    plot_confusion(report["metrics"], classes, directory / PLOTS[1])
    plot_tradeoff(report["threshold_curve"], report["threshold"], classes, directory / PLOTS[2],
                  report.get("target_fnr"))


def plot_curves(history: dict[str, list[float]], path: Path) -> None:
    epochs = np.arange(1, len(history["train_log_loss"]) + 1)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric, title in zip(axes, ("log_loss", "accuracy"), ("Log loss", "Accuracy")):
        ax.plot(epochs, history[f"train_{metric}"], label="train")
        ax.plot(epochs, history[f"eval_{metric}"], label="test")
        ax.set(xlabel="epoch", ylabel=title, title=f"{title} (whole set, per epoch)")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_confusion(metrics: dict[str, dict[str, Any]], classes: tuple[str, str], path: Path) -> None:
    """Both confusion matrices, normalized by the actual class; ``classes`` names class 0 and class 1."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 4.3))
    for ax, (name, m) in zip(np.atleast_1d(axes), metrics.items()):
        counts = np.array(m["confusion_matrix"])
        norm = np.array(m["confusion_matrix_normalized"])
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        for (i, j), value in np.ndenumerate(norm):
            ax.text(j, i, f"{value:.3f}\n({counts[i, j]})", ha="center", va="center",
                    color="white" if value > 0.5 else "black")
        ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=classes, yticklabels=classes,
               xlabel="predicted", ylabel="actual",
               title=f"{name}: FPR {_rate(m['fpr'])}, FNR {_rate(m['fnr'])}")
    fig.suptitle(f"Confusion matrices, normalized by actual class (threshold {m['threshold']:.4g})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def plot_tradeoff(curve: dict[str, list[float]], threshold: float, classes: tuple[str, str], path: Path,
                  target_fnr: float | None = None) -> None:
    """FPR and FNR on the training rows as the threshold moves, on a log-odds axis so that both ends (where a
    good model's probabilities crowd) are readable; the chosen threshold and any --target-fnr are drawn."""
    t = np.clip(np.asarray(curve["threshold"], np.float64), 1e-5, 1 - 1e-5)
    fig, ax = plt.subplots(figsize=(8, 4.6))
    ax.plot(t, curve["fpr"], label=f"FPR ({classes[0]} flagged)")
    ax.plot(t, curve["fnr"], label=f"FNR ({classes[1]} missed)")
    ax.axvline(min(max(threshold, 1e-5), 1 - 1e-5), color="grey", linestyle="--", label=f"chosen threshold {threshold:.4g}")
    if target_fnr is not None:
        ax.axhline(target_fnr, color="tab:orange", linestyle=":", label=f"target FNR {target_fnr:g}")
    ax.set_xscale("logit")
    ticks = [1e-4, 0.01, 0.1, 0.5, 0.9, 0.99, 0.9999]
    ax.set_xticks(ticks, [f"{v:g}" for v in ticks])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set(xlabel="threshold (log-odds scale)", ylabel="rate on the training rows", ylim=(-0.02, 1.02),
           title="Training set: FPR and FNR vs. threshold")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)  # beside the curves, not on them
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def summary(report: dict[str, Any], out: Path) -> str:
    """What was trained on, final metrics beside scikit-learn's, and what was written where."""
    data = report["data"]
    balance = data["class_balance"]["all"]
    lines = [f"data: {data['source']}: {data['rows']:,} rows ({data['train_rows']:,} train, {data['test_rows']:,} test), "
             f"{data['n_features']} features; label {data['label_column']!r}: class 1 = {data['positive_class']!r} "
             f"({balance[str(data['positive_class'])]:,} rows), class 0 = {data['negative_class']!r} "
             f"({balance[str(data['negative_class'])]:,} rows)"]
    lines += [f"note: {text}" for text in data_notes(data)]
    model = ModelSpec.from_architecture(report["model"]["family"], report["model"]["architecture"])
    lines.append(f"model: {model.describe(data['n_features'])}")
    rows = [("ours (test)", report["metrics"]["test"])]
    rows += [(f"sklearn {name} (test)", m) for name, m in report["baseline_test"].items()]
    lines.append(f"{'model':<38} {'accuracy':>8} {'log loss':>8} {'ROC AUC':>8} {'FPR':>6} {'FNR':>6}")
    for name, m in rows:
        cells = [_cell(m[k], width, digits) for k, width, digits in
                 (("accuracy", 8, 4), ("log_loss", 8, 4), ("roc_auc", 8, 4), ("fpr", 6, 3), ("fnr", 6, 3))]
        lines.append(f"{name:<38} {' '.join(cells)}")
    stop = report.get("stopping") or {}
    recipe = f"recipe {report['recipe']}, " if report.get("recipe") else ""
    lines.append(f"{recipe}threshold {report['threshold']:.6g}, l2 {report['config']['l2']:.3g}, "
                 f"trained in {report['training_seconds']:.2f} s, {stop.get('epochs', 0):,} epochs "
                 f"(traced {report['trace_count']}x): {stop.get('reason', '')}")
    lines += [f"note: {text}" for text in baseline_notes(report.get("versus_baseline"))]
    lines.append(f"wrote {out}/: model.json, checkpoint/, reference_rows.npy, report.json, {', '.join(PLOTS)}, manifest.json")
    return "\n".join(lines)


def _cell(value: float | None, width: int, digits: int) -> str:
    """A metric for the summary table; n/a where it is undefined (a class absent from the test rows)."""
    return f"{'n/a':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def baseline_notes(versus: dict[str, Any] | None) -> list[str]:
    """A line when our test log loss is worse than scikit-learn's by more than the report's margin, with what to try."""
    if not versus or not versus["worse"]:
        return []
    return [f"ours is {versus['relative']:.1%} worse than scikit-learn's {versus['baseline']} on {versus['metric']} "
            f"({versus['ours']:.4f} vs {versus['baseline_value']:.4f}); to try: {versus['advice']}"]


def data_notes(data: dict[str, Any]) -> list[str]:
    """What a user should know about their data: constant, skipped and incomplete columns."""
    notes = []
    if data.get("id_columns"):
        notes.append(f"id column{'s' * (len(data['id_columns']) > 1)} {', '.join(map(repr, data['id_columns']))}: "
                     "not a feature; the scorer passes it through by default (--id COLUMN to choose)")
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
