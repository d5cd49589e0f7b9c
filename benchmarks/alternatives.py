"""Against what a user would write instead: the scorer, a whole-file polars + onnxruntime script and a pandas one, as
whole processes (start-up included) pinned to 1 core and to 2, with their peak memory, side by side in one run."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from benchmarks.common import core_sets, machine_line, markdown_table, run_measured, scorer_parser, summarize, write_result
from benchmarks.datagen import write_csv
from contract.artifacts import resolve_model

OURS = "ours (scoring.batch, onnx)"
#: The scripts a user would write (files of their own, importing nothing of this project), and the no-model ceiling.
SCRIPTS = {"polars + onnxruntime script": "alternative_polars.py", "pandas + onnxruntime script": "alternative_pandas.py"}
CEILING = "ceiling: polars parse + write, no model"


def commands(src: Path, workdir: Path, export: Path) -> dict[str, tuple[list[str], Path]]:
    """Every variant's command and the file it writes."""
    here = Path(__file__).resolve().parent
    onnx = str(resolve_model(export, "onnx").path)
    out = {OURS: ([sys.executable, "-m", "scoring.batch", str(src), str(workdir / "ours.csv"), "--model", str(export),
                   "--quiet"], workdir / "ours.csv")}
    for i, (name, script) in enumerate(SCRIPTS.items()):
        target = workdir / f"script{i}.csv"
        out[name] = ([sys.executable, str(here / script), str(src), str(target), onnx], target)
    out[CEILING] = ([sys.executable, str(here / "ceiling.py"), str(src), str(workdir / "ceiling.csv")],
                    workdir / "ceiling.csv")
    return out


def agreement(ours: Path, theirs: Path) -> dict[str, Any]:
    """Whether a script scored every row as the scorer did: same ids and labels, probabilities' largest difference,
    and whether the files are the same bytes."""
    a, b = pl.read_csv(ours), pl.read_csv(theirs)
    same_rows = a.height == b.height and a["id"].equals(b["id"])
    diff = float(np.max(np.abs(a["probability"].to_numpy() - b["probability"].to_numpy()))) if same_rows else None
    return {"rows": b.height, "same_ids": same_rows, "label_mismatches": int((a["label"] != b["label"]).sum())
            if same_rows else None, "probability_max_abs_diff": diff, "same_bytes": ours.read_bytes() == theirs.read_bytes()}


def measure(src: Path, workdir: Path, export: Path, cores: list[int], repeats: int) -> dict[str, Any]:
    """``repeats`` interleaved runs of every variant; times and ratios paired within each repeat."""
    variants = commands(src, workdir, export)
    runs: list[dict[str, dict[str, float]]] = []
    for _ in range(repeats):
        runs.append({name: run_measured(command, cores=cores) for name, (command, _) in variants.items()})
    stat = {name: {key: summarize([run[name][key] for run in runs]) for key in ("wall", "cpu", "peak_rss_mib")}
            for name in variants}
    # > 1 means the scorer is faster: the other's seconds over ours, within each repeat (drifting load cancels).
    ours_speedup = {name: summarize([run[name]["wall"] / run[OURS]["wall"] for run in runs])
                    for name in variants if name != OURS}
    memory = {name: summarize([run[name]["peak_rss_mib"] / run[OURS]["peak_rss_mib"] for run in runs])
              for name in variants if name != OURS}
    agree = {name: agreement(variants[OURS][1], target) for name, (_, target) in variants.items() if name in SCRIPTS}
    return {"stats": stat, "ours_speedup": ours_speedup, "memory_vs_ours": memory, "agreement": agree}


def tables(result: dict[str, Any]) -> str:
    counts = list(result["by_cores"])
    header = ["whole process, 2M rows" if result["rows"] == 2_000_000 else f"whole process, {result['rows']:,} rows"]
    for n in counts:
        header += [f"s, {n} core(s)", f"ours faster by, {n}", f"peak RSS MiB, {n}"]
    rows = []
    for name in result["by_cores"][counts[0]]["stats"]:
        row = [name]
        for n in counts:
            part = result["by_cores"][n]
            wall, rss = part["stats"][name]["wall"], part["stats"][name]["peak_rss_mib"]
            speed = part["ours_speedup"].get(name)
            row += [f"{wall['median']:.2f} ({wall['min']:.2f}-{wall['max']:.2f})",
                    "-" if speed is None else f"{speed['median']:.2f}x ({speed['min']:.2f}-{speed['max']:.2f})",
                    f"{rss['median']:.0f}"]
        rows.append(row)
    return markdown_table(header, rows)


def main(argv: list[str] | None = None) -> int:
    parser = scorer_parser("python -m benchmarks.alternatives", __doc__, 2_000_000, 5, "20,000 rows, 1 repeat (smoke test)")
    args = parser.parse_args(argv)
    rows, repeats = (20_000, 1) if args.quick else (args.rows, args.repeats)
    export = args.model.resolve()
    load = [os.getloadavg()]
    result: dict[str, Any] = {"rows": rows, "repeats": repeats, "by_cores": {}}
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        src = write_csv(Path(tmp) / "input.csv", rows)
        result["bytes"] = src.stat().st_size
        for n, cores in core_sets().items():
            result["by_cores"][str(n)] = measure(src, Path(tmp), export, cores, repeats)
            load.append(os.getloadavg())
    result["load_average_1_5_15min"] = load
    print(f"Alternatives: {rows:,} rows ({result['bytes'] / 2**20:.0f} MiB), median (min-max) of {repeats} interleaved "
          f"runs per core count, on {machine_line()}; load averages during the run: "
          f"{min(a[0] for a in load):.1f} to {max(a[0] for a in load):.1f}\n")
    print(tables(result))
    for n, part in result["by_cores"].items():
        for name, agree in part["agreement"].items():
            print(f"{n} core(s), {name}: {agree['rows']:,} rows, labels differing {agree['label_mismatches']}, "
                  f"probability max |diff| {agree['probability_max_abs_diff']:.3g}, same bytes: {agree['same_bytes']}")
    print(f"\nwrote {write_result('alternatives_quick' if args.quick else 'alternatives', result, args.results_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
