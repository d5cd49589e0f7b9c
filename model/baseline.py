"""scikit-learn's LogisticRegression on the same split: the reference the report compares against."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from model.metrics import evaluate


def sklearn_baselines(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray
) -> dict[str, dict[str, Any]]:
    """Test-set metrics of LogisticRegression (C=1) and LogisticRegressionCV (C by 5-fold CV), standardized."""
    models = {
        "LogisticRegression": LogisticRegression(max_iter=10_000),
        "LogisticRegressionCV": LogisticRegressionCV(max_iter=10_000, scoring="accuracy", l1_ratios=(0.0,), use_legacy_attributes=False),
    }
    results = {}
    for name, estimator in models.items():
        pipeline = make_pipeline(StandardScaler(), estimator).fit(x_train, y_train.astype(np.int64))
        logits = pipeline.decision_function(x_test)
        probability = pipeline.predict_proba(x_test)[:, 1]
        results[name] = evaluate(y_test, logits, probability, 0.5)
    return results
