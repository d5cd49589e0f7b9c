"""scikit-learn's LogisticRegression on the same split: the reference the report compares against."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from model.metrics import evaluate

#: Baselines are references, not the product: on bigger tables they fit on a random sample of this many rows.
MAX_ROWS = 100_000


def sklearn_baselines(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, seed: int = 0
) -> dict[str, dict[str, Any]]:
    """Test-set metrics of LogisticRegression (C=1) and LogisticRegressionCV (C by k-fold CV), standardized.

    CV uses up to 5 folds, fewer when a class has fewer training rows; with under 2 it is left out.
    """
    if len(y_train) > MAX_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(len(y_train), MAX_ROWS, replace=False))
        x_train, y_train = x_train[rows], y_train[rows]
    folds = min(5, int(min((y_train == 1).sum(), (y_train == 0).sum())))
    models: dict[str, Any] = {"LogisticRegression": LogisticRegression(max_iter=10_000)}
    if folds >= 2:
        models["LogisticRegressionCV"] = LogisticRegressionCV(cv=folds, max_iter=10_000, scoring="accuracy",
                                                              l1_ratios=(0.0,), use_legacy_attributes=False)
    results = {}
    for name, estimator in models.items():
        pipeline = make_pipeline(StandardScaler(), estimator).fit(x_train, y_train.astype(np.int64))
        logits = pipeline.decision_function(x_test)
        probability = pipeline.predict_proba(x_test)[:, 1]
        results[name] = {**evaluate(y_test, logits, probability, 0.5), "fit_rows": int(len(y_train))}
    return results
