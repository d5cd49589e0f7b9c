"""One timed fit on a generated table, in its own process: ours or scikit-learn's; prints one JSON line."""

from __future__ import annotations

import importlib
import json
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.datagen import logistic_table

#: Rows standardized per step: bounded temporaries, so set-up never holds a float64 copy of the table.
CHUNK = 65_536


def rss_mib() -> float:
    """This process's resident memory now (after set-up, before the fit)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def standardize(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> None:
    """``x = (x - mean) / std`` in place, chunk by chunk, in float32."""
    mean32, std32 = mean.astype(np.float32), std.astype(np.float32)
    for start in range(0, len(x), CHUNK):
        x[start : start + CHUNK] -= mean32
        x[start : start + CHUNK] /= std32


def column_moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and population standard deviations, accumulated in float64 chunk by chunk."""
    total = np.zeros(x.shape[1])
    for start in range(0, len(x), CHUNK):
        total += x[start : start + CHUNK].sum(axis=0, dtype=np.float64)
    mean = total / len(x)
    squares = np.zeros(x.shape[1])
    for start in range(0, len(x), CHUNK):
        squares += np.square(x[start : start + CHUNK] - mean).sum(axis=0)
    std = np.sqrt(squares / len(x))
    return mean, np.where(std > 0, std, 1.0)


def tables(spec: dict[str, Any]) -> dict[str, Any]:
    """The training and held-out rows of ``spec``, standardized with the training rows' moments."""
    train = logistic_table(spec["rows"], spec["features"], seed=spec["seed"])
    held_out = logistic_table(spec["eval_rows"], spec["features"], seed=spec["seed"], stream=1)
    mean, std = column_moments(train.x)
    standardize(train.x, mean, std)
    standardize(held_out.x, mean, std)
    return {"x": train.x, "y": train.y, "x_eval": held_out.x, "y_eval": held_out.y,
            "bayes_log_loss": train.bayes_log_loss}


def fit_ours(data: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Our compiled loop, one epoch per call so every epoch's end is timed (loss as the history records it)."""
    from model.fit import FitConfig, fit_classifier

    config = FitConfig(**spec["config"])
    ends: list[float] = []
    start = time.perf_counter()
    _, history, trainer = fit_classifier(
        data["x"], data["y"], data["x_eval"], data["y_eval"], config, block=1,
        on_block=lambda done, _: ends.append(time.perf_counter() - start),
    )
    return {"seconds": ends[-1], "epoch_end_seconds": ends, "epochs": config.epochs,
            "train_log_loss": history.values["train_log_loss"], "eval_log_loss": history.values["eval_log_loss"],
            "trace_count": trainer.trace_count}


def fit_sklearn(data: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """scikit-learn's LogisticRegression as model/baseline.py runs it (lbfgs, C=1), optionally stopped early."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    from model.metrics import log_loss_from_logits

    estimator = LogisticRegression(max_iter=spec.get("max_iter", 10_000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter below convergence is the point
        start = time.perf_counter()
        estimator.fit(data["x"], data["y"])
        seconds = time.perf_counter() - start

    def loss(x: np.ndarray, y: np.ndarray) -> float:
        coef = estimator.coef_[0]
        logits = np.concatenate([x[s : s + CHUNK] @ coef for s in range(0, len(x), CHUNK)]) + estimator.intercept_[0]
        return log_loss_from_logits(y, logits)

    return {"seconds": seconds, "iterations": int(estimator.n_iter_[0]),
            "train_log_loss": loss(data["x"], data["y"]), "eval_log_loss": loss(data["x_eval"], data["y_eval"]),
            "blas": _blas()}


def search_sklearn(data: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """scikit-learn's full fit, then the fewest lbfgs iterations whose loss is within ``tolerance`` of it.

    lbfgs's line search only takes steps that lower the objective, so bisection on ``max_iter`` works.
    """
    full = fit_sklearn(data, spec)
    target = (1 + spec["tolerance"]) * full["train_log_loss"]
    below, within, tried = 0, full["iterations"], {}
    while within - below > 1:
        middle = (below + within) // 2
        tried[middle] = fit_sklearn(data, {**spec, "max_iter": middle})["train_log_loss"]
        below, within = (below, middle) if tried[middle] <= target else (middle, within)
    return {"full": full, "target_log_loss": target, "iterations_to_target": within, "tried": tried}


def _blas() -> list[dict[str, Any]]:
    from threadpoolctl import threadpool_info

    keys = ("internal_api", "num_threads", "architecture", "version")
    return [{k: pool.get(k) for k in keys} for pool in threadpool_info()]


FITS: dict[str, Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]] = {
    "ours": fit_ours, "sklearn": fit_sklearn, "sklearn-search": search_sklearn,
}


#: Imported during set-up, so "RSS after set-up" holds the library as well as the data.
LIBRARIES = {"ours": "model.fit", "sklearn": "sklearn.linear_model", "sklearn-search": "sklearn.linear_model"}


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.training_scale_worker SPEC_JSON``: set up (untimed), fit (timed), print JSON."""
    spec = json.loads((argv if argv is not None else sys.argv[1:])[0])
    importlib.import_module(LIBRARIES[spec["kind"]])
    data = tables(spec)
    setup_rss = rss_mib()
    result = FITS[spec["kind"]](data, spec)
    print(json.dumps({**result, "rss_after_setup_mib": setup_rss, "bayes_log_loss": data["bayes_log_loss"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
