"""scikit-learn's LogisticRegression on the same split: the reference the report compares against."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from model.metrics import evaluate

#: Baselines are references, not the product: on bigger tables they fit on a random sample of this many rows
#: (LogisticRegressionCV fits 5 folds x 10 strengths, so it gets fewer).
MAX_ROWS = {"LogisticRegression": 100_000, "LogisticRegressionCV": 20_000}


def sklearn_baselines(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, seed: int = 0
) -> dict[str, dict[str, Any]]:
    """Test-set metrics of LogisticRegression (C=1) and LogisticRegressionCV (C by k-fold CV), standardized.

    CV uses up to 5 folds, fewer when a class has fewer training rows; with under 2 it is left out.
    """
    results = {}
    for name, limit in MAX_ROWS.items():
        x, y = _sample(x_train, y_train, limit, seed)
        folds = min(5, int(min((y == 1).sum(), (y == 0).sum())))
        if name == "LogisticRegression":
            estimator = LogisticRegression(max_iter=10_000)
        elif folds >= 2:
            estimator = LogisticRegressionCV(cv=folds, max_iter=10_000, scoring="accuracy", l1_ratios=(0.0,),
                                             use_legacy_attributes=False)
        else:
            continue
        pipeline = make_pipeline(StandardScaler(), estimator).fit(x, y.astype(np.int64))
        logits = pipeline.decision_function(x_test)
        probability = pipeline.predict_proba(x_test)[:, 1]
        results[name] = {**evaluate(y_test, logits, probability, 0.5), "fit_rows": int(len(y))}
    return results


def _sample(x: np.ndarray, y: np.ndarray, limit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """About ``limit`` rows, each class in its share (and at least one row of it): a rare class stays present."""
    if len(y) <= limit:
        return x, y
    rng = np.random.default_rng(seed)
    parts = []
    for cls in (0, 1):
        members = np.flatnonzero(y == cls)
        take = min(len(members), max(1, round(limit * len(members) / len(y))))
        parts.append(rng.choice(members, take, replace=False))
    rows = np.sort(np.concatenate(parts))
    return x[rows], y[rows]
