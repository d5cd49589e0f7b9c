"""Our MLP vs. scikit-learn's MLPClassifier of the same widths: test log loss, and seconds to the same loss."""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, benchmark_parser, machine_info, machine_line, markdown_table, summarize, \
    write_result

HIDDEN, ACTIVATION = (32, 16), "relu"
#: "The same loss": a whole-set training log loss at most this share above scikit-learn's final one.
TOLERANCE = 0.01
SKLEARN = "scikit-learn MLPClassifier (adam, batch 200, lr 0.001), to its own stop"
#: Our variants (FitConfig fields): scikit-learn's own settings, larger batches, and our default (the tutorial's).
OURS: dict[str, dict[str, Any]] = {
    "ours, adam, batch 200, lr 0.001 (scikit-learn's settings)": {"optimizer": "adam", "batch_size": 200,
                                                                 "learning_rate": 0.001},
    "ours, adam, batch 2048, lr 0.01": {"optimizer": "adam", "batch_size": 2048, "learning_rate": 0.01},
    "ours, sgd, batch 64, lr 0.01 (our default)": {"optimizer": "sgd", "batch_size": 64, "learning_rate": 0.01},
}


@dataclass(frozen=True)
class Table:
    """Training and test rows, and how many epochs any fit may take on them."""

    name: str
    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    epochs: int


def tables(quick: bool) -> list[Table]:
    """WDBC's tutorial split, and a table no line separates (a sphere in 3 of 10 features, 5% labels flipped)."""
    from benchmarks.datagen import sphere_table
    from model.data import load_dataset, split

    rows = split(load_dataset())
    wdbc = Table("WDBC (427 training rows x 30)", rows.x_train, rows.y_train, rows.x_test, rows.y_test,
                 60 if quick else 200)
    n = 20_000 if quick else 200_000
    train, test = sphere_table(n, seed=0), sphere_table(n // 4, seed=0, stream=1)
    sphere = Table(f"sphere ({n:,} training rows x 10)", train.x, train.y, test.x, test.y, 10 if quick else 60)
    return [wdbc, sphere]


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p.astype(np.float64), 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def fit_sklearn(t: Table, seed: int) -> dict[str, Any]:
    """One epoch per ``partial_fit`` (timed), stopped by MLPClassifier's own rule (training loss not better by
    ``tol`` for ``n_iter_no_change`` epochs); whole-set losses are taken off the clock after every epoch."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(t.x)  # off the clock: ours standardizes inside its (timed) fit
    x, x_test = scaler.transform(t.x).astype(np.float32), scaler.transform(t.x_test).astype(np.float32)
    mlp = MLPClassifier(HIDDEN, activation=ACTIVATION, solver="adam", alpha=0.0, batch_size=200,
                        learning_rate_init=0.001, random_state=seed)
    classes = np.array([0.0, 1.0], np.float32)
    ends, train_loss, test_loss, elapsed, best, stale = [], [], [], 0.0, np.inf, 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(t.epochs):
            start = time.perf_counter()
            mlp.partial_fit(x, t.y, classes=classes)
            elapsed += time.perf_counter() - start
            ends.append(elapsed)
            train_loss.append(log_loss(t.y, mlp.predict_proba(x)[:, 1]))
            test_loss.append(log_loss(t.y_test, mlp.predict_proba(x_test)[:, 1]))
            stale = 0 if mlp.loss_ < best - mlp.tol else stale + 1
            best = min(best, mlp.loss_)
            if stale >= mlp.n_iter_no_change:
                break
    return {"epoch_end_seconds": ends, "train_log_loss": train_loss, "eval_log_loss": test_loss}


def fit_ours(t: Table, seed: int, config: dict[str, Any]) -> dict[str, Any]:
    """Our compiled loop one epoch per call, so that every epoch's end is timed (its one trace included)."""
    from model.families import ModelSpec
    from model.fit import FitConfig, fit_classifier

    ends: list[float] = []
    start = time.perf_counter()
    _, history, _ = fit_classifier(t.x, t.y, t.x_test, t.y_test, FitConfig(epochs=t.epochs, seed=seed, **config),
                                   ModelSpec.of("mlp", HIDDEN, ACTIVATION), block=1,
                                   on_block=lambda done, _: ends.append(time.perf_counter() - start))
    return {"epoch_end_seconds": ends, "train_log_loss": history.values["train_log_loss"],
            "eval_log_loss": history.values["eval_log_loss"]}


def to_target(run: dict[str, Any], target: float) -> dict[str, Any]:
    """When ``run`` first reached ``target`` (seconds and epochs), and its final losses."""
    reached = next((i for i, loss in enumerate(run["train_log_loss"]) if loss <= target), None)
    return {"seconds_to_target": None if reached is None else run["epoch_end_seconds"][reached],
            "epochs_to_target": None if reached is None else reached + 1, "epochs": len(run["train_log_loss"]),
            "seconds": run["epoch_end_seconds"][-1], "final_train_log_loss": run["train_log_loss"][-1],
            "final_test_log_loss": run["eval_log_loss"][-1], "best_test_log_loss": min(run["eval_log_loss"])}


def compare(t: Table, repeats: int, ours: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Every variant once per repeat, interleaved; the target is each repeat's scikit-learn final loss x 1.01."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in (SKLEARN, *ours)}
    for repeat in range(repeats):
        sklearn = fit_sklearn(t, seed=repeat)
        target = (1 + TOLERANCE) * sklearn["train_log_loss"][-1]
        runs[SKLEARN].append({**to_target(sklearn, target), "target": target})
        for name, config in ours.items():
            runs[name].append({**to_target(fit_ours(t, 22 + repeat, config), target), "target": target})
    return {"table": t.name, "epochs_allowed": t.epochs, "runs": runs,
            "stats": {name: _stats(samples) for name, samples in runs.items()}}


def _stats(samples: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {key: summarize([s[key] for s in samples]) for key in
                           ("seconds", "final_train_log_loss", "final_test_log_loss", "best_test_log_loss", "target")}
    reached = [s["seconds_to_target"] for s in samples if s["seconds_to_target"] is not None]
    out["seconds_to_target"] = summarize(reached) if reached else None
    out["reached"] = f"{len(reached)} of {len(samples)}"
    out["epochs_to_target"] = summarize([s["epochs_to_target"] for s in samples if s["epochs_to_target"]]) \
        if reached else None
    return out


def table(result: dict[str, Any]) -> str:
    rows = []
    for name, s in result["stats"].items():
        reach = s["seconds_to_target"]
        rows.append([name, s["reached"],
                     "not reached" if reach is None
                     else f"{reach['median']:.2f} ({reach['min']:.2f}-{reach['max']:.2f})",
                     "-" if s["epochs_to_target"] is None else f"{s['epochs_to_target']['median']:g}",
                     f"{s['seconds']['median']:.2f}", f"{s['final_train_log_loss']['median']:.4f}",
                     f"{s['final_test_log_loss']['median']:.4f}", f"{s['best_test_log_loss']['median']:.4f}"])
    return markdown_table(["variant", "reached the target", "s to the target (median, min-max)", "epochs to it",
                           "s, whole run", "final train loss", "final test loss", "best test loss (any epoch)"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser("python -m benchmarks.mlp_sklearn", __doc__)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs of every variant (default: 3)")
    parser.add_argument("--quick", action="store_true", help="small tables, few epochs, one repeat (smoke test)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    ours = dict(list(OURS.items())[:1]) if args.quick else OURS
    results = [compare(t, repeats, ours) for t in tables(args.quick)]
    info = machine_info()
    print(f"MLP {'-'.join(map(str, HIDDEN))} {ACTIVATION} vs scikit-learn's MLPClassifier, median of {repeats} "
          f"interleaved runs on {machine_line(info)}. Target: {1 + TOLERANCE:g} x scikit-learn's final training "
          "log loss in the same repeat.")
    for result in results:
        print(f"\n{result['table']}, at most {result['epochs_allowed']} epochs:\n")
        print(table(result))
    path = write_result("mlp_sklearn_quick" if args.quick else "mlp_sklearn",
                        {"hidden": list(HIDDEN), "activation": ACTIVATION, "tolerance": TOLERANCE,
                         "repeats": repeats, "tables": results}, args.results_dir)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
