"""The training report: report.json and PNG plots (curves, confusion matrices, FPR/FNR vs threshold)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # Headless: no display on servers or CI.
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

PLOTS = ("training_curves.png", "confusion_matrices.png", "threshold_tradeoff.png")


def write_report(directory: Path, report: dict[str, Any]) -> None:
    """Write report.json and the plots into ``directory``."""
    (directory / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    plot_curves(report["history"], directory / PLOTS[0])
    classes = (report["label_meaning"]["0"], report["label_meaning"]["1"])
    plot_confusion(report["metrics"], classes, directory / PLOTS[1])
    plot_tradeoff(report["threshold_curve"], report["threshold"], classes, directory / PLOTS[2])


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


def plot_tradeoff(curve: dict[str, list[float]], threshold: float, classes: tuple[str, str], path: Path) -> None:
    """FPR and FNR on the training rows as the threshold moves, with the chosen one marked."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(curve["threshold"], curve["fpr"], label=f"FPR ({classes[0]} flagged)")
    ax.plot(curve["threshold"], curve["fnr"], label=f"FNR ({classes[1]} missed)")
    ax.axvline(threshold, color="grey", linestyle="--", label=f"chosen {threshold:.4g}")
    ax.set(xlabel="threshold", ylabel="rate", title="Training set: FPR/FNR vs. threshold")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
