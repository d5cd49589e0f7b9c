"""Tests for model.metrics: whole-set metrics, correctly oriented FPR/FNR, the threshold chooser."""

from __future__ import annotations

import warnings

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


@pytest.mark.slow
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


def test_evaluate_reports_every_metric_under_its_name() -> None:
    # Asymmetric: 5 benign (2 flagged), 3 malignant (1 missed); the logits rank the rows differently from the labels,
    # so an AUC computed from hard labels (0.633) differs from the one from logits (13/15).
    y = np.array([0, 0, 0, 0, 0, 1, 1, 1])
    logits = np.array([-3.0, -2.0, 0.5, 1.0, -1.0, 2.0, 3.0, -0.5])
    p = sigmoid(logits)
    m = evaluate(y, logits, p, 0.5)
    assert m == {
        "n": 8,
        "log_loss": pytest.approx(log_loss(y, p.astype(np.float64)), rel=1e-6),
        "accuracy": 5 / 8,
        "roc_auc": pytest.approx(13 / 15),
        "threshold": 0.5,
        "fpr": 2 / 5,
        "fnr": 1 / 3,
        "confusion_matrix": [[3, 2], [1, 2]],
        "confusion_matrix_normalized": [[3 / 5, 2 / 5], [1 / 3, 2 / 3]],
    }


def test_a_probability_equal_to_the_threshold_is_negative_as_in_the_exported_graph() -> None:
    y = np.array([0, 1, 1])
    p = np.array([0.3, 0.3, 0.9], np.float32)
    m = evaluate(y, np.log(p / (1 - p)), p, 0.3)
    assert m["confusion_matrix"] == [[1, 0], [1, 1]]
    # float64 probabilities are compared in float32, as the model compares them: just above the float32
    # threshold in float64 is the threshold itself in float32, so negative.
    t = float(np.float32(0.3))
    m64 = evaluate(y, np.zeros(3), np.array([t + 1e-10, t, 0.9]), t)
    assert m64["confusion_matrix"] == [[1, 0], [1, 1]]


@pytest.mark.parametrize("label", [0, 1])
def test_a_set_with_one_class_gives_none_where_a_rate_is_undefined_and_no_warning(label: int) -> None:
    y = np.full(4, label)
    p = np.array([0.1, 0.2, 0.7, 0.8], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = evaluate(y, np.log(p / (1 - p)), p, 0.5)
    assert m["roc_auc"] is None
    assert m["confusion_matrix"] == ([[2, 2], [0, 0]] if label == 0 else [[0, 0], [2, 2]])
    assert (m["fpr"], m["fnr"]) == ((0.5, None) if label == 0 else (None, 0.5))
    assert m["confusion_matrix_normalized"] == ([[0.5, 0.5], [0.0, 0.0]] if label == 0 else [[0.0, 0.0], [0.5, 0.5]])
    # Also when every row is one class and predicted as that class: still a 2x2 matrix.
    same = evaluate(y, np.zeros(4), np.full(4, 0.9 if label else 0.1, np.float32), 0.5)
    assert same["confusion_matrix"] == ([[4, 0], [0, 0]] if label == 0 else [[0, 0], [0, 4]])


def test_sigmoid_is_float32_and_computed_in_float32_like_the_model() -> None:
    z = np.random.default_rng(3).normal(0, 4, 10_000)  # float64 in
    s = sigmoid(z)
    assert s.dtype == np.float32
    assert sigmoid(np.array([0.0, 2.0, -2.0])).tolist() == pytest.approx([0.5, 0.8807971, 0.1192029], abs=1e-7)
    z32 = z.astype(np.float32)
    assert np.array_equal(s, (np.float32(1) / (np.float32(1) + np.exp(-z32))).astype(np.float32))


def test_log_loss_is_computed_in_float64_from_float32_logits() -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 5_000).astype(np.float32)
    z = rng.normal(0, 3, 5_000).astype(np.float32)
    z64 = z.astype(np.float64)
    exact = np.mean(np.maximum(z64, 0) - z64 * y + np.log1p(np.exp(-np.abs(z64))))
    assert log_loss_from_logits(y, z) == pytest.approx(exact, rel=1e-13)


def test_threshold_for_fnr_edges_all_misses_allowed_and_no_positives() -> None:
    y = np.array([0, 1, 1, 0])
    p = np.array([0.2, 0.6, 0.4, 0.1], np.float32)
    assert threshold_for_fnr(y, p, 1.0) == 1.0  # every positive may be missed: nothing needs flagging
    assert threshold_for_fnr(np.array([1]), np.array([0.7], np.float32), 0.0) < 0.7  # a single positive is caught
    with pytest.raises(ValueError, match=r"^Cannot choose a threshold for a target FNR: the data has no positive rows\.$"):
        threshold_for_fnr(np.array([0, 0]), np.array([0.2, 0.3]), 0.1)


def test_threshold_for_fnr_is_a_float32_value_for_float64_probabilities() -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 300)
    p = 1 / (1 + np.exp(-(rng.normal(0, 2, 300) + 2 * y)))  # float64, as a caller may pass them
    t = threshold_for_fnr(y, p, 0.1)
    assert float(np.float32(t)) == t  # the model compares float32 probabilities with a float32 threshold
    assert _fnr(y, p.astype(np.float32), t) <= 0.1


def test_threshold_curve_spans_zero_to_one_and_warns_about_nothing_for_one_class() -> None:
    from model.metrics import threshold_curve

    p = np.array([0.05, 0.5, 0.95])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        curve = threshold_curve(np.zeros(3, np.int64), p, points=5)
    thresholds = curve["threshold"]
    assert thresholds == sorted(set(thresholds)) and thresholds[0] == 0.0 and thresholds[-1] == 1.0
    at = [thresholds.index(t) for t in (0.0, 0.25, 0.5, 0.75, 1.0)]  # the evenly spaced ones are all there
    assert [curve["fpr"][i] for i in at] == [1.0, 2 / 3, 1 / 3, 1 / 3, 0.0]
    assert np.isnan(curve["fnr"]).all()


def test_threshold_curve_walks_log_odds_from_1e_5_to_1_minus_1e_5() -> None:
    """The trade-off plot's fine end: thresholds off the even grid are evenly spaced in log-odds, from
    sigmoid(-11.5) (about 1e-5) up to sigmoid(11.5), as the docstring and the plot's axis say."""
    from model.metrics import threshold_curve

    curve = threshold_curve(np.array([0, 1]), np.array([0.2, 0.8]), points=5)
    thresholds = np.array(curve["threshold"])
    inner = thresholds[(thresholds > 0) & (thresholds < 1) & ~np.isin(thresholds, np.float32([0.25, 0.5, 0.75]))]
    log_odds = np.log(inner / (1 - inner))
    assert log_odds == pytest.approx([-11.5, -5.75, 5.75, 11.5], abs=1e-3)  # 0.0 is the even grid's 0.5


def test_threshold_curve_compares_float64_probabilities_in_float32_as_evaluate_does() -> None:
    from model.metrics import threshold_curve

    t = float(np.float32(0.5))
    y, p = np.array([0, 1]), np.array([t + 1e-10, t + 1e-10])  # the threshold itself in float32: negative
    curve = threshold_curve(y, p, points=5)
    at = curve["threshold"].index(t)
    m = evaluate(y, np.zeros(2), p, t)
    assert (curve["fpr"][at], curve["fnr"][at]) == (m["fpr"], m["fnr"]) == (0.0, 1.0)


def test_threshold_curve_of_positives_only_has_nan_fpr_and_warns_about_nothing() -> None:
    from model.metrics import threshold_curve

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        curve = threshold_curve(np.ones(3, np.int64), np.array([0.05, 0.5, 0.95]), points=5)
    assert np.isnan(curve["fpr"]).all()
    assert curve["fnr"][curve["threshold"].index(0.5)] == 2 / 3
