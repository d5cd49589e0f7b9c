"""Training on a big table: our compiled loop vs. scikit-learn, in rows/s and seconds to scikit-learn's loss."""

from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

from benchmarks.common import (
    RESULTS,
    benchmark_parser,
    machine_info,
    machine_line,
    markdown_table,
    run_measured,
    summarize,
    write_result,
)

#: "Within 1%": a training log loss at most 1.01 x scikit-learn's final one.
TOLERANCE = 0.01
SKLEARN_FULL = "scikit-learn lbfgs, to convergence"
SKLEARN_STOPPED = "scikit-learn lbfgs, stopped at the first iteration within 1%"
#: Our variants: FitConfig fields. Large batches need Adam; the tutorial's SGD is shown at both sizes.
OURS: dict[str, dict[str, Any]] = {
    "ours, adam, batch 16384, lr 0.05": {"optimizer": "adam", "batch_size": 16_384, "learning_rate": 0.05, "epochs": 6},
    "ours, adam, batch 65536, lr 0.1": {"optimizer": "adam", "batch_size": 65_536, "learning_rate": 0.1, "epochs": 8},
    "ours, sgd, batch 65536, lr 0.01": {"optimizer": "sgd", "batch_size": 65_536, "learning_rate": 0.01, "epochs": 8},
    "ours, sgd, batch 64, lr 0.01 (tutorial)": {"optimizer": "sgd", "batch_size": 64, "learning_rate": 0.01, "epochs": 2},
}
FULL = {"rows": 1_000_000, "features": 100, "eval_rows": 250_000}
#: The smoke run: a small table, one Adam and the tutorial (each of our processes pays TensorFlow's import).
QUICK = {"rows": 20_000, "features": 20, "eval_rows": 5_000}
QUICK_OURS = ("ours, adam, batch 16384, lr 0.05", "ours, sgd, batch 64, lr 0.01 (tutorial)")


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """One ``benchmarks.training_scale_worker`` process: its JSON plus its peak RSS."""
    report = run_measured([sys.executable, "-m", "benchmarks.training_scale_worker", json.dumps(spec)])
    result = json.loads(report["stdout"].strip().splitlines()[-1])
    result["peak_rss_mib"] = report["peak_rss_mib"]
    return result


def variants(table: dict[str, Any], reference: dict[str, Any], ours: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Worker specs by name: ours, and scikit-learn both to convergence and stopped once within 1%."""
    specs = {name: {**table, "kind": "ours", "config": OURS[name]} for name in ours}
    specs[SKLEARN_FULL] = {**table, "kind": "sklearn"}
    specs[SKLEARN_STOPPED] = {**table, "kind": "sklearn", "max_iter": reference["iterations_to_target"]}
    return specs


def seconds_to_target(run: dict[str, Any], target: float) -> float | None:
    """Ours: the end of the first epoch whose training loss is within 1%; scikit-learn: its fit, if within."""
    if "epoch_end_seconds" not in run:
        return run["seconds"] if run["train_log_loss"] <= target else None
    hits = [t for t, loss in zip(run["epoch_end_seconds"], run["train_log_loss"]) if loss <= target]
    return hits[0] if hits else None


def epochs_to_target(run: dict[str, Any], target: float) -> int | None:
    losses = run["train_log_loss"] if isinstance(run["train_log_loss"], list) else []
    return next((i + 1 for i, loss in enumerate(losses) if loss <= target), None)


def variant_stats(runs: list[dict[str, Any]], rows: int, target: float) -> dict[str, Any]:
    """Medians and ranges over one variant's runs."""
    reached = [s for s in (seconds_to_target(r, target) for r in runs) if s is not None]
    stats: dict[str, Any] = {
        "seconds_to_target": summarize(reached) if reached else None,
        "runs_reaching_target": len(reached),
        "fit_seconds": summarize([r["seconds"] for r in runs]),
        "peak_rss_mib": summarize([r["peak_rss_mib"] for r in runs]),
        "rss_after_setup_mib": summarize([r["rss_after_setup_mib"] for r in runs]),
    }
    last = runs[0]["train_log_loss"]
    stats["final_train_log_loss"] = last[-1] if isinstance(last, list) else last
    if "epoch_end_seconds" in runs[0]:
        epochs = runs[0]["epochs"]
        stats["epochs"] = epochs
        stats["epochs_to_target"] = epochs_to_target(runs[0], target)
        stats["rows_per_second"] = summarize([rows * epochs / r["seconds"] for r in runs])
        # After the first epoch: conversion, standardization and the one trace are behind us.
        steady = [statistics.median(_diffs(r["epoch_end_seconds"])) for r in runs if epochs > 1]
        stats["rows_per_second_after_first_epoch"] = summarize([rows / s for s in steady]) if steady else None
        stats["trace_count"] = runs[0]["trace_count"]
    else:
        stats["iterations"] = runs[0]["iterations"]
    return stats


def _diffs(ends: list[float]) -> list[float]:
    return [b - a for a, b in zip(ends, ends[1:])]


def run(table: dict[str, Any], repeats: int, ours: tuple[str, ...] = tuple(OURS)) -> dict[str, Any]:
    """The reference fit and search first (untimed), then every variant interleaved ``repeats`` times."""
    reference = run_worker({**table, "kind": "sklearn-search", "tolerance": TOLERANCE})
    target = reference["target_log_loss"]
    specs = variants(table, reference, ours)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in specs}
    load = [os.getloadavg()]
    for repeat in range(repeats):
        for name, spec in specs.items():
            runs[name].append(run_worker(spec))
            print(f"run {repeat + 1}/{repeats}: {name}: fit {runs[name][-1]['seconds']:.2f} s", file=sys.stderr)
        load.append(os.getloadavg())
    stats = {name: variant_stats(samples, table["rows"], target) for name, samples in runs.items()}
    return {**table, "repeats": repeats, "tolerance": TOLERANCE, "target_log_loss": target,
            "sklearn_final_log_loss": reference["full"]["train_log_loss"],
            "bayes_log_loss": reference["bayes_log_loss"], "sklearn_search": reference,
            "stats": stats, "ratios": ratios(stats, ours), "load_average_1_5_15min": load, "runs": runs}


def ratios(stats: dict[str, Any], ours: tuple[str, ...]) -> dict[str, dict[str, float | None]]:
    """scikit-learn's median seconds over ours to the same loss: above 1 means we are faster."""
    out = {}
    for name in ours:
        ours = stats[name]["seconds_to_target"]
        out[name] = {
            reference: (stats[reference]["seconds_to_target"]["median"] / ours["median"]) if ours else None
            for reference in (SKLEARN_FULL, SKLEARN_STOPPED)
        }
    return out


def table_rows(result: dict[str, Any]) -> list[list[str]]:
    rows = []
    for name, s in result["stats"].items():
        reach = s["seconds_to_target"]
        steps = f"{s['epochs_to_target'] or '-'} of {s['epochs']} epochs" if "epochs" in s else f"{s['iterations']} iterations"
        whole, rate = s.get("rows_per_second"), s.get("rows_per_second_after_first_epoch")
        rows.append([
            name,
            f"{reach['median']:.2f} ({reach['min']:.2f}-{reach['max']:.2f})" if reach else "not reached",
            steps,
            f"{s['fit_seconds']['median']:.2f}",
            f"{s['final_train_log_loss']:.4f}",
            f"{whole['median'] / 1e6:.2f} / {rate['median'] / 1e6:.2f}" if whole and rate else "-",
            f"{s['peak_rss_mib']['median']:.0f} ({s['rss_after_setup_mib']['median']:.0f})",
        ])
    return rows


HEADER = ["variant", "s to within 1% (median, min-max)", "reached after", "fit s", "final train loss",
          "M rows/s: whole fit / after epoch 1", "peak RSS MiB (after set-up)"]


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser("python -m benchmarks.training_scale", __doc__)
    parser.add_argument("--quick", action="store_true", help="20,000 x 20 rows, 1 repeat (smoke test)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs of every variant")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated table (default: %(default)s)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args(argv)
    if args.quick:
        table, repeats, ours = {**QUICK, "seed": args.seed}, 1, QUICK_OURS
    else:
        table, repeats, ours = {**FULL, "seed": args.seed}, args.repeats, tuple(OURS)
    result = run(table, repeats, ours)
    info = machine_info()
    print(f"Training on {table['rows']:,} x {table['features']} rows (+{table['eval_rows']:,} held out); "
          f"median of {repeats} interleaved runs on {machine_line(info)}")
    print(f"Target: training log loss <= {result['target_log_loss']:.5f} (scikit-learn's final "
          f"{result['sklearn_final_log_loss']:.5f} + 1%; the true model's loss on these rows: "
          f"{result['bayes_log_loss']:.5f})\n")
    print(markdown_table(HEADER, table_rows(result)))
    for name, r in result["ratios"].items():
        if r[SKLEARN_FULL] is not None:
            print(f"\n{name}: to the same loss, scikit-learn's fit takes {r[SKLEARN_FULL]:.2f}x our time, "
                  f"lbfgs stopped at the first iteration within 1% {r[SKLEARN_STOPPED]:.2f}x.", end="")
    load = result["load_average_1_5_15min"]
    print(f"\nLoad average (1 min) from {load[0][0]:.2f} to {load[-1][0]:.2f}, max {max(x[0] for x in load):.2f}.")
    print(f"wrote {write_result('training_scale_quick' if args.quick else 'training_scale', result, args.results_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
