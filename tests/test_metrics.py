"""Tests for model.metrics: whole-set metrics, correctly oriented FPR/FNR, the threshold chooser."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss

from model.metrics import evaluate, log_loss_from_logits, sigmoid, threshold_for_fnr


def test_log_loss_from_logits_matches_sklearn_and_survives_saturation() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    z = rng.normal(0, 3, 200)
    assert log_loss_from_logits(y, z) == pytest.approx(log_loss(y, 1 / (1 + np.exp(-z))), rel=1e-9)
    # A confidently wrong row at logit 100 costs 100 nats, not log(eps).
    assert log_loss_from_logits([0], [100.0]) == pytest.approx(100.0)


def test_confusion_matrix_is_normalized_by_actual_class() -> None:
    # 4 benign (1 flagged), 2 malignant (1 missed): FPR 1/4, FNR 1/2.
    y = np.array([0, 0, 0, 0, 1, 1])
    p = np.array([0.9, 0.1, 0.2, 0.3, 0.2, 0.8], np.float32)
    m = evaluate(y, np.log(p / (1 - p)), p, 0.5)
    assert m["confusion_matrix"] == [[3, 1], [1, 1]]
    assert m["fpr"] == 0.25 and m["fnr"] == 0.5
    assert m["confusion_matrix_normalized"][0][1] == m["fpr"]
    assert m["confusion_matrix_normalized"][1][0] == m["fnr"]
    assert m["accuracy"] == pytest.approx(4 / 6)


def _fnr(y: np.ndarray, p: np.ndarray, t: float) -> float:
    return float(np.mean(p[y == 1] <= np.float32(t)))


@pytest.mark.parametrize("target", [0.0, 0.05, 0.1, 0.25, 0.5, 0.99])
def test_threshold_for_fnr_is_the_highest_meeting_the_target(target: float) -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    p = sigmoid(rng.normal(0, 2, 400) + 2 * y)
    t = threshold_for_fnr(y, p, target)
    assert _fnr(y, p, t) <= target
    # One float32 step higher breaks the target: no higher threshold meets it.
    assert _fnr(y, p, float(np.nextafter(np.float32(t), np.float32(np.inf)))) > target


def test_threshold_for_fnr_rejects_out_of_range_targets() -> None:
    with pytest.raises(ValueError, match=r"target_fnr must be in \[0, 1\], got 1.5"):
        threshold_for_fnr(np.array([1]), np.array([0.5]), 1.5)


def test_threshold_curve_equals_a_confusion_matrix_at_every_threshold() -> None:
    from sklearn.metrics import confusion_matrix

    from model.metrics import rates, threshold_curve

    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 1_000)
    # Probabilities exactly on the threshold grid (ties), plus skewed ones in between.
    p = np.concatenate([np.linspace(0, 1, 201, dtype=np.float32), sigmoid(rng.normal(-1, 2, 799) + 3 * y[201:])])
    curve = threshold_curve(y, p)
    thresholds = np.array(curve["threshold"])
    assert thresholds[0] == 0 and thresholds[-1] == 1 and np.all(np.diff(thresholds) > 0)
    assert set(np.linspace(0, 1, 201, dtype=np.float32)) <= set(thresholds.astype(np.float32))
    assert np.sum(thresholds < 0.01) >= 50  # the low end, where a good model's negatives sit, is sampled finely
    for t, fpr, fnr in zip(curve["threshold"], curve["fpr"], curve["fnr"]):
        assert (fpr, fnr) == rates(confusion_matrix(y, (p > np.float32(t)).astype(np.int64), labels=[0, 1]))
    no_positives = threshold_curve(np.zeros(5), p[:5])
    assert np.isnan(no_positives["fnr"]).all() and no_positives["fpr"][0] == 0.8  # p[0] == 0 is not > 0
