"""Scaling: scorer rows/s and peak RSS for 200k, 2M and 10M rows (both should stay flat)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from benchmarks.common import (
    RESULTS,
    benchmark_parser,
    directory,
    machine_info,
    machine_line,
    markdown_table,
    write_result,
)
from benchmarks.datagen import write_csv
from benchmarks.runner import interleaved_workers

SIZES = (200_000, 2_000_000, 10_000_000)
VARIANTS = ["ours-onnx", "ours-onnx-blocks"]


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser("python -m benchmarks.scaling", __doc__)
    parser.add_argument("--model", type=Path, default=Path("artifacts/export"), help="export directory")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs of every variant and size")
    parser.add_argument("--quick", action="store_true", help="10k and 50k rows, 1 repeat (smoke test)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="where the JSON goes")
    parser.add_argument("--workdir", type=directory, default=None,
                        help="where the generated CSVs go, created if missing (default: a temp dir)")
    args = parser.parse_args(argv)
    sizes, repeats = ((10_000, 50_000), 1) if args.quick else (SIZES, args.repeats)
    results = {}
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for rows in sizes:
            src = write_csv(Path(tmp) / f"in_{rows}.csv", rows)
            results[rows] = interleaved_workers(VARIANTS, src, Path(tmp), args.model.resolve(), repeats, rows)
            src.unlink()
    table_rows, flatness = [], {}
    for variant in VARIANTS:
        rates = [results[n][variant]["rows_per_second"]["median"] for n in sizes]
        rss = [results[n][variant]["peak_rss_mib"]["median"] for n in sizes]
        flatness[variant] = {"rows_per_second_max_over_min": max(rates) / min(rates),
                             "peak_rss_largest_over_middle": rss[-1] / rss[-2]}
        for n, rate, mem in zip(sizes, rates, rss):
            table_rows.append([variant, f"{n:,}", f"{rate / 1e6:.3f}", f"{mem:.0f}"])
    info = machine_info()
    print(f"Scaling, median of {repeats} interleaved runs per size on {machine_line(info)}\n")
    print(markdown_table(["variant", "rows", "M rows/s", "peak RSS MiB"], table_rows))
    for variant, f in flatness.items():
        print(f"\n{variant}: rows/s max/min over sizes {f['rows_per_second_max_over_min']:.2f}; "
              f"peak RSS {sizes[-1]:,} vs {sizes[-2]:,} rows: {f['peak_rss_largest_over_middle']:.2f}x", end="")
    print()
    name = "scaling_quick" if args.quick else "scaling"
    payload = {"sizes": list(sizes), "repeats": repeats, "results": {str(k): v for k, v in results.items()},
               "flatness": flatness}
    print(f"wrote {write_result(name, payload, args.results_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
