"""End-to-end CSV scoring: our scorer per runtime vs. the parse+write ceiling vs. the naive approach.

``--second-model EXPORT`` scores the same file with another export too (an MLP's, say), interleaved in the same
run, so what the model adds shows as the difference between the two ratios to the one ceiling.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from benchmarks.common import machine_info, machine_line, markdown_table, scorer_parser, write_result
from benchmarks.datagen import write_csv
from benchmarks.runner import SECOND, interleaved_workers

VARIANTS = ["ours-onnx", "ours-tf", "ours-onnx-blocks", "ceiling-polars", "ceiling-pyarrow", "naive-pandas-eager-tf"]
#: With --second-model: the scorer on both runtimes with that export.
SECOND_VARIANTS = [f"ours-onnx{SECOND}", f"ours-tf{SECOND}"]


def ratios(stats: dict) -> dict[str, float]:
    """The ceiling is the faster of polars and pyarrow at parse + write with no model."""
    rate = {v: s["rows_per_second"]["median"] for v, s in stats.items()}
    ceiling = max(rate["ceiling-polars"], rate["ceiling-pyarrow"])
    second = {f"{runtime}_second_vs_ceiling": rate[f"ours-{runtime}{SECOND}"] / ceiling
              for runtime in ("onnx", "tf") if f"ours-{runtime}{SECOND}" in rate}
    return {
        **second,
        "ceiling_rows_per_second": ceiling,
        "onnx_vs_ceiling": rate["ours-onnx"] / ceiling,
        "tf_vs_ceiling": rate["ours-tf"] / ceiling,
        "onnx_blocks_vs_ceiling": rate["ours-onnx-blocks"] / ceiling,
        "onnx_vs_naive": rate["ours-onnx"] / rate["naive-pandas-eager-tf"],
        "tf_vs_naive": rate["ours-tf"] / rate["naive-pandas-eager-tf"],
    }


def tables(stats: dict, r: dict) -> str:
    rows = []
    for variant, s in stats.items():
        rows.append([variant, f"{s['rows_per_second']['median'] / 1e6:.3f}",
                     f"{s['rows_per_second']['min'] / 1e6:.3f}-{s['rows_per_second']['max'] / 1e6:.3f}",
                     f"{s['seconds']['median']:.2f}", f"{s['setup_seconds']['median']:.2f}",
                     f"{s['process_seconds']['median']:.2f}", f"{s['peak_rss_mib']['median']:.0f}"])
    main = markdown_table(["variant", "M rows/s (median)", "M rows/s (min-max)", "s (median)",
                           "start-up s (imports, model load)", "whole process s", "peak RSS MiB"], rows)
    stage_rows = []
    for variant in [v for v in stats if v.startswith("ours-")]:
        st = stats[variant]["stages"]
        stage_rows.append([variant, st.get("engine", ""), *(f"{st.get(k, 0.0):.2f}" for k in
                           ("read", "parse", "convert", "infer", "serialize", "write", "parse_exact", "sync")),
                           f"{stats[variant]['seconds']['median']:.2f}"])
    breakdown = markdown_table(["variant", "engine", "read s", "parse s", "convert s", "infer s", "serialize s",
                                "write s", "exact-path s", "fsync s", "wall s"], stage_rows)
    ratio_lines = "\n".join([
        f"- ceiling (fastest no-model parse+write): {r['ceiling_rows_per_second'] / 1e6:.3f} M rows/s",
        f"- ONNX scorer / ceiling: {r['onnx_vs_ceiling']:.2f}x; TF scorer / ceiling: {r['tf_vs_ceiling']:.2f}x;"
        f" ONNX block pipeline / ceiling: {r['onnx_blocks_vs_ceiling']:.2f}x",
        f"- ONNX scorer / naive: {r['onnx_vs_naive']:.1f}x; TF scorer / naive: {r['tf_vs_naive']:.1f}x",
        *([f"- second model: ONNX scorer / ceiling: {r['onnx_second_vs_ceiling']:.2f}x; TF scorer / ceiling: "
           f"{r['tf_second_vs_ceiling']:.2f}x"] if "onnx_second_vs_ceiling" in r else []),
    ])
    note = ("Stage seconds are summed per stage and thread; in the block pipeline one thread reads and appends "
            "the output while one worker per core parses, converts, infers and serializes, so they add up to more "
            "than the wall time. The streaming "
            "engine parses and writes inside polars, so only convert and infer are separable there. fsync is "
            "the durable commit: the output file before its rename, the directory after.")
    return f"{main}\n\nWhere the time goes:\n\n{breakdown}\n\n{note}\n\n{ratio_lines}"


def main(argv: list[str] | None = None) -> int:
    parser = scorer_parser("python -m benchmarks.scoring", __doc__, 2_000_000, 5, "20,000 rows, 1 repeat (smoke test)")
    parser.add_argument("--second-model", type=Path, default=None, metavar="EXPORT",
                        help=f"another export scored in the same run by {', '.join(SECOND_VARIANTS)}")
    args = parser.parse_args(argv)
    rows, repeats = (20_000, 1) if args.quick else (args.rows, args.repeats)
    variants = VARIANTS + (SECOND_VARIANTS if args.second_model else [])
    second = args.second_model.resolve() if args.second_model else None
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        src = write_csv(Path(tmp) / "input.csv", rows)
        size = src.stat().st_size
        stats = interleaved_workers(variants, src, Path(tmp), args.model.resolve(), repeats, rows,
                                    second_model=second)
    r = ratios(stats)
    info = machine_info()
    print(f"Scoring {rows:,} rows ({size / 2**20:.0f} MiB CSV), median of {repeats} interleaved runs, each in "
          f"its own process (start-up and model load not timed), on {machine_line(info)}\n")
    print(tables(stats, r))
    name = "scoring_two_models" if second else "scoring"  # the second model's run keeps the first's file
    name += "_quick" if args.quick else ""
    models = {"model": str(args.model), "second_model": None if second is None else str(args.second_model)}
    path = write_result(name, {"rows": rows, "bytes": size, "repeats": repeats, **models, "stats": stats,
                               "ratios": r}, args.results_dir)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
