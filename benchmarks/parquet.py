"""Parquet in, Parquet out: our scorer per runtime and engine vs. polars scanning and sinking the same Parquet with
no model (its own ceiling), and the same rows as CSV in and out vs. the CSV ceiling, interleaved."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import polars as pl

from benchmarks.common import machine_info, machine_line, markdown_table, scorer_parser, write_result
from benchmarks.datagen import write_csv
from benchmarks.runner import interleaved_workers

PARQUET_VARIANTS = ["parquet-ours-onnx", "parquet-ours-tf", "parquet-ceiling-polars"]
#: CSV in: CSV out (the usual case), and Parquet out, which polars' streaming engine writes.
CSV_VARIANTS = ["ours-onnx", "csv-to-parquet-ours-onnx", "ceiling-polars"]
#: Rows per row group of the generated Parquet file (polars' default is larger; a data platform's files often
#: hold row groups of this order, and more groups exercise the batch boundaries).
ROW_GROUP_ROWS = 131_072


def ratios(stats: dict) -> dict[str, float]:
    rate = {v: s["rows_per_second"]["median"] for v, s in stats.items()}
    ceiling = rate["parquet-ceiling-polars"]
    return {
        "parquet_ceiling_rows_per_second": ceiling,
        "parquet_onnx_vs_ceiling": rate["parquet-ours-onnx"] / ceiling,
        "parquet_tf_vs_ceiling": rate["parquet-ours-tf"] / ceiling,
        "csv_ceiling_rows_per_second": rate["ceiling-polars"],
        "csv_onnx_vs_ceiling": rate["ours-onnx"] / rate["ceiling-polars"],
        "parquet_onnx_vs_csv_onnx": rate["parquet-ours-onnx"] / rate["ours-onnx"],
        "csv_to_parquet_onnx_vs_csv_onnx": rate["csv-to-parquet-ours-onnx"] / rate["ours-onnx"],
    }


def table(stats: dict) -> str:
    rows = [[variant, f"{s['rows_per_second']['median'] / 1e6:.3f}",
             f"{s['rows_per_second']['min'] / 1e6:.3f}-{s['rows_per_second']['max'] / 1e6:.3f}",
             f"{s['seconds']['median']:.2f}", f"{s['process_seconds']['median']:.2f}",
             f"{s['peak_rss_mib']['median']:.0f}", s["stages"].get("engine", "")] for variant, s in stats.items()]
    return markdown_table(["variant", "M rows/s (median)", "M rows/s (min-max)", "s (median)", "whole process s",
                           "peak RSS MiB", "engine"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = scorer_parser("python -m benchmarks.parquet", __doc__, 2_000_000, 5, "20,000 rows, 1 repeat (smoke test)")
    args = parser.parse_args(argv)
    rows, repeats = (20_000, 1) if args.quick else (args.rows, args.repeats)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        csv = write_csv(Path(tmp) / "input.csv", rows)
        parquet = Path(tmp) / "input.parquet"
        pl.scan_csv(csv).sink_parquet(parquet, row_group_size=ROW_GROUP_ROWS)
        sizes = {"csv_bytes": csv.stat().st_size, "parquet_bytes": parquet.stat().st_size}
        stats = {}
        for _ in range(repeats):  # the two formats interleaved too, one repeat of each at a time
            for src, variants in ((parquet, PARQUET_VARIANTS), (csv, CSV_VARIANTS)):
                for variant, s in interleaved_workers(variants, src, Path(tmp), args.model.resolve(), 1, rows).items():
                    stats.setdefault(variant, []).append(s)
    merged = {variant: _merge(samples) for variant, samples in stats.items()}
    r = ratios(merged)
    print(f"Scoring {rows:,} rows, Parquet ({sizes['parquet_bytes'] / 2**20:.0f} MiB, row groups of "
          f"{ROW_GROUP_ROWS:,}) and CSV ({sizes['csv_bytes'] / 2**20:.0f} MiB), median of {repeats} interleaved "
          f"runs, each in its own process (start-up and model load not timed), on {machine_line(machine_info())}\n")
    print(table(merged))
    print(f"\n- Parquet ceiling (polars scan_parquet + sink_parquet, no model): {r['parquet_ceiling_rows_per_second'] / 1e6:.3f}"
          f" M rows/s; ONNX scorer / it: {r['parquet_onnx_vs_ceiling']:.2f}x, TF scorer: {r['parquet_tf_vs_ceiling']:.2f}x")
    print(f"- CSV ceiling: {r['csv_ceiling_rows_per_second'] / 1e6:.3f} M rows/s; ONNX scorer / it: "
          f"{r['csv_onnx_vs_ceiling']:.2f}x; ONNX scorer Parquet / CSV: {r['parquet_onnx_vs_csv_onnx']:.2f}x; CSV in and "
          f"Parquet out / CSV: {r['csv_to_parquet_onnx_vs_csv_onnx']:.2f}x")
    name = "parquet_quick" if args.quick else "parquet"
    path = write_result(name, {"rows": rows, **sizes, "row_group_rows": ROW_GROUP_ROWS, "repeats": repeats,
                               "stats": merged, "ratios": r}, args.results_dir)
    print(f"\nwrote {path}")
    return 0


def _merge(samples: list[dict]) -> dict:
    """Per-repeat stats (one sample each) back into one set of medians and ranges."""
    from benchmarks.common import summarize

    keys = ("seconds", "rows_per_second", "setup_seconds", "process_seconds", "peak_rss_mib")
    merged = {k: summarize([s[k]["median"] for s in samples]) for k in keys}
    merged["stages"] = samples[0]["stages"]
    return merged


if __name__ == "__main__":
    sys.exit(main())
