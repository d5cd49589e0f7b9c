"""Tests for model.baseline: scikit-learn's references on the same rows, sampled on big tables."""

from __future__ import annotations

import numpy as np

from model import baseline


def rows(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return x, (x[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(np.float32)


def test_baselines_fit_on_every_row_of_a_small_table() -> None:
    (x, y), (xt, yt) = rows(300), rows(100, seed=1)
    results = baseline.sklearn_baselines(x, y, xt, yt)
    assert {name: r["fit_rows"] for name, r in results.items()} == {"LogisticRegression": 300,
                                                                     "LogisticRegressionCV": 300}
    assert results["LogisticRegression"]["accuracy"] > 0.75 and results["LogisticRegression"]["n"] == 100


def test_big_tables_are_sampled_and_cv_needs_two_rows_a_class(monkeypatch) -> None:
    monkeypatch.setattr(baseline, "MAX_ROWS", {"LogisticRegression": 200, "LogisticRegressionCV": 50})
    (x, y), (xt, yt) = rows(1000), rows(100, seed=1)
    results = baseline.sklearn_baselines(x, y, xt, yt)
    assert results["LogisticRegression"]["fit_rows"] == 200 and results["LogisticRegressionCV"]["fit_rows"] == 50
    one_positive = np.zeros(300, np.float32)
    one_positive[7] = 1
    results = baseline.sklearn_baselines(x[:300], one_positive, xt, yt)  # the one positive row is kept
    assert set(results) == {"LogisticRegression"} and results["LogisticRegression"]["fit_rows"] == 200
