"""Logistic regression vs. the MLP through ``python -m model.train``: tables no line separates, and real ones.

Every table is written as a CSV, as a user would have it, and trained with the CLI's defaults and only the flags
that say what the table is, once per family and seed (the seed moves the initial weights and the shuffles, not
the split): the spread over seeds is the noise a difference between the families is read against.
"""

from __future__ import annotations

import json
import shlex
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, benchmark_parser, machine_info, machine_line, markdown_table, run_measured, \
    write_result
from benchmarks.own_tables import iris_and_wine

FAMILIES = ("logreg", "mlp")
SEEDS = (22, 1, 2)
METRICS = ("accuracy", "log_loss", "roc_auc")


@dataclass(frozen=True)
class Table:
    """A table: where it comes from and the flags that say what it is (None: the bundled WDBC, no flags)."""

    name: str
    origin: str
    flags: tuple[str, ...] | None


TABLES = (
    Table("rings", "sklearn make_circles(2000, noise=0.1, factor=0.5): two concentric rings",
          ("--label", "ring", "--stratify")),
    Table("xor", "2,000 points uniform in [-1, 1]^2, label = same sign of both, 0.05 noise on the points",
          ("--label", "same_sign", "--stratify")),
    Table("wdbc", "the bundled WDBC (the default run)", None),
    Table("iris", "sklearn load_iris, versicolor vs virginica", ("--label", "species", "--positive", "virginica")),
    Table("wine", "sklearn load_wine, class 0 vs the rest", ("--label", "class_0", "--positive", "yes")),
    Table("diabetes", "sklearn load_diabetes, progression above its median", ("--label", "high", "--positive", "yes")),
    Table("digits", "sklearn load_digits, 3 vs 8 (64 pixels, some constant)", ("--label", "digit", "--positive", "8")),
)
QUICK = ("rings",)


def rings(rows: int = 2_000, seed: int = 0) -> Any:
    """Two concentric rings: the README's example of a table logistic regression cannot fit."""
    import pandas as pd
    from sklearn.datasets import make_circles

    x, y = make_circles(n_samples=rows, noise=0.1, factor=0.5, random_state=seed)
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "ring": y})


def xor(rows: int = 2_000, seed: int = 1) -> Any:
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(rows, 2))
    y = (x[:, 0] * x[:, 1] > 0).astype(int)
    x += rng.normal(0, 0.05, x.shape)
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "same_sign": y})


def write_tables(directory: Path) -> None:
    """Every table but WDBC as a CSV in ``directory``."""
    from sklearn import datasets

    frames = {"rings": rings(), "xor": xor(), **iris_and_wine()}
    diabetes = datasets.load_diabetes(as_frame=True, scaled=False).frame
    target = diabetes.pop("target")
    diabetes["high"] = np.where(target > target.median(), "yes", "no")
    frames["diabetes"] = diabetes
    digits = datasets.load_digits(as_frame=True).frame
    digits = digits[digits.target.isin([3, 8])].rename(columns={"target": "digit"})
    frames["digits"] = digits
    for name, frame in frames.items():
        frame.to_csv(directory / f"{name}.csv", index=False)


def command(t: Table, family: str, seed: int, directory: Path) -> list[str]:
    data = [] if t.flags is None else ["--data", str(directory / f"{t.name}.csv"), *t.flags]
    return [sys.executable, "-m", "model.train", *data, "--model", family, "--seed", str(seed),
            "--out", str(directory / f"{t.name}-{family}-{seed}"), "--quiet"]


def train(t: Table, family: str, seed: int, directory: Path) -> dict[str, Any]:
    """One CLI run: its test metrics, the scikit-learn LogisticRegression baseline's, and its wall time."""
    cmd = command(t, family, seed, directory)
    done = run_measured(cmd)  # raises, with the command and its last lines, if it fails
    report = json.loads((Path(cmd[cmd.index("--out") + 1]) / "report.json").read_text())
    return {"test": {k: report["metrics"]["test"][k] for k in METRICS},
            "baseline": {k: report["baseline_test"]["LogisticRegression"][k] for k in METRICS},
            "wall_seconds": done["wall"], "test_rows": report["data"]["test_rows"]}


def compare(t: Table, directory: Path, seeds: tuple[int, ...]) -> dict[str, Any]:
    runs = {family: [train(t, family, seed, directory) for seed in seeds] for family in FAMILIES}
    summary: dict[str, Any] = {}
    for family, samples in runs.items():
        summary[family] = {k: _spread([s["test"][k] for s in samples]) for k in METRICS}
    loss = {family: summary[family]["log_loss"] for family in FAMILIES}
    # The noise: how far one family's test log loss moves with the seed alone (the larger of the two spreads).
    noise = max(loss[f]["max"] - loss[f]["min"] for f in FAMILIES)
    difference = loss["mlp"]["median"] - loss["logreg"]["median"]
    return {"table": t.name, "origin": t.origin, "command": shlex.join(command(t, "mlp", seeds[0], Path("DIR"))),
            "test_rows": runs["mlp"][0]["test_rows"], "runs": runs, "summary": summary,
            "sklearn_logistic_regression": runs["logreg"][0]["baseline"],
            "mlp_minus_logreg_log_loss": difference, "seed_noise_log_loss": noise,
            "mlp_no_worse_beyond_noise": difference <= noise}


def _spread(values: list[float | None]) -> dict[str, float | None]:
    present = [v for v in values if v is not None]
    if not present:
        return {"median": None, "min": None, "max": None}
    return {"median": statistics.median(present), "min": min(present), "max": max(present)}


def _cell(s: dict[str, float | None], digits: int = 4) -> str:
    if s["median"] is None:
        return "n/a"
    if s["min"] == s["max"]:
        return f"{s['median']:.{digits}f}"
    return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


def table(results: list[dict[str, Any]]) -> str:
    rows = []
    for r in results:
        s = r["summary"]
        rows.append([r["table"], r["test_rows"], *(_cell(s[f][k]) for k in ("log_loss", "roc_auc") for f in FAMILIES),
                     f"{s['logreg']['accuracy']['median']:.3f} / {s['mlp']['accuracy']['median']:.3f}",
                     f"{r['mlp_minus_logreg_log_loss']:+.4f}", f"{r['seed_noise_log_loss']:.4f}",
                     "yes" if r["mlp_no_worse_beyond_noise"] else "no"])
    return markdown_table(["table", "test rows", "log loss: logreg", "log loss: mlp", "ROC AUC: logreg", "ROC AUC: mlp",
                           "accuracy logreg / mlp", "mlp - logreg log loss", "seed noise",
                           "mlp within noise or better"],
                          rows)


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser("python -m benchmarks.families", __doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{' and '.join(QUICK)}, one seed (smoke test)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args(argv)
    chosen = [t for t in TABLES if not args.quick or t.name in QUICK]
    seeds = SEEDS[:1] if args.quick else SEEDS
    with tempfile.TemporaryDirectory(prefix="families_") as tmp:
        write_tables(Path(tmp))
        results = [compare(t, Path(tmp), seeds) for t in chosen]
    info = machine_info()
    print(f"python -m model.train with its defaults, --model logreg and --model mlp (hidden 32,16, relu), seeds "
          f"{', '.join(map(str, seeds))}; test-set medians (min-max over seeds) on {machine_line(info)}\n")
    print(table(results))
    path = write_result("families_quick" if args.quick else "families", {"seeds": list(seeds), "tables": results},
                        args.results_dir)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
