"""Whole-set log loss, accuracy, confusion matrix, FPR/FNR, ROC AUC and the threshold chooser."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, roc_auc_score


def log_loss_from_logits(y: np.ndarray, logits: np.ndarray) -> float:
    """Mean binary cross-entropy computed from logits in float64 (exact where probabilities saturate)."""
    z = np.asarray(logits, np.float64)
    y = np.asarray(y, np.float64)
    return float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """The logistic function in float32, as the exported model computes it."""
    z = np.asarray(logits, np.float32)
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


def rates(cm: np.ndarray) -> tuple[float, float]:
    """(FPR, FNR) from a 2x2 confusion matrix whose rows are the true class (0, 1)."""
    negatives, positives = cm[0].sum(), cm[1].sum()
    fpr = cm[0, 1] / negatives if negatives else float("nan")
    fnr = cm[1, 0] / positives if positives else float("nan")
    return float(fpr), float(fnr)


def evaluate(y: np.ndarray, logits: np.ndarray, probability: np.ndarray, threshold: float) -> dict[str, Any]:
    """Every metric of the report for one set of rows, computed on the whole set."""
    y = np.asarray(y).astype(np.int64)
    predicted = (np.asarray(probability, np.float32) > np.float32(threshold)).astype(np.int64)
    cm = confusion_matrix(y, predicted, labels=[0, 1])
    # Normalize along the true class (rows), so cell [0,1] is the FPR and [1,0] the FNR; the tutorial
    # divided along the predicted class and swapped them.
    with np.errstate(invalid="ignore", divide="ignore"):
        cm_norm = cm / cm.sum(axis=1, keepdims=True)
    fpr, fnr = rates(cm)
    both_classes = len(np.unique(y)) == 2
    return {
        "n": int(len(y)),
        "log_loss": log_loss_from_logits(y, logits),
        "accuracy": float(np.mean(predicted == y)),
        "roc_auc": float(roc_auc_score(y, logits)) if both_classes else None,
        "threshold": float(threshold),
        # None, not NaN, where a class is absent: JSON has no NaN.
        "fpr": None if np.isnan(fpr) else fpr,
        "fnr": None if np.isnan(fnr) else fnr,
        "confusion_matrix": cm.tolist(),
        "confusion_matrix_normalized": np.nan_to_num(cm_norm).tolist(),
    }


def threshold_for_fnr(y: np.ndarray, probability: np.ndarray, target_fnr: float) -> float:
    """The highest threshold whose FNR on (y, probability) is at most ``target_fnr``.

    A row is predicted positive when ``probability > threshold``. With P positives at most
    ``floor(target_fnr * P)`` may be missed, so the threshold must sit just below the
    (k+1)-th smallest positive probability: the next float32 down from it.
    """
    if not 0.0 <= target_fnr <= 1.0:
        raise ValueError(f"target_fnr must be in [0, 1], got {target_fnr}.")
    positives = np.sort(np.asarray(probability, np.float32)[np.asarray(y) == 1])
    if positives.size == 0:
        raise ValueError("Cannot choose a threshold for a target FNR: the data has no positive rows.")
    allowed_misses = int(np.floor(target_fnr * positives.size + 1e-9))
    if allowed_misses >= positives.size:
        return 1.0
    return float(np.nextafter(positives[allowed_misses], np.float32(-np.inf)))


def threshold_curve(y: np.ndarray, probability: np.ndarray, points: int = 201) -> dict[str, list[float]]:
    """FPR and FNR at thresholds in [0, 1]: ``points`` evenly spaced, plus as many evenly spaced in log-odds
    (down to 1e-5 and up to 1 - 1e-5), where a well-fitted model's probabilities crowd: the trade-off the
    threshold chooser walks.

    One sort per class and a binary search per threshold, not a confusion matrix per threshold:
    at a million rows that is the difference between a fraction of a second and many seconds.
    """
    y = np.asarray(y).astype(np.int64)
    probability = np.asarray(probability, np.float32)
    log_odds = np.linspace(-11.5, 11.5, points)
    thresholds = np.unique(np.concatenate([np.linspace(0.0, 1.0, points), 1.0 / (1.0 + np.exp(-log_odds))])
                           .astype(np.float32))
    negatives, positives = np.sort(probability[y == 0]), np.sort(probability[y == 1])
    # A row is predicted positive when probability > threshold, so "at or below" is predicted negative.
    false_positives = negatives.size - np.searchsorted(negatives, thresholds, side="right")
    false_negatives = np.searchsorted(positives, thresholds, side="right")
    nan = np.full(thresholds.size, np.nan)
    return {
        "threshold": thresholds.tolist(),
        "fpr": (false_positives / negatives.size if negatives.size else nan).tolist(),
        "fnr": (false_negatives / positives.size if positives.size else nan).tolist(),
    }
