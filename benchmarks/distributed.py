"""Dask scale-out vs. the single-machine scorer on the same file: rows/s, overhead on 1 worker, 2-worker speed-up."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import (
    RESULTS,
    benchmark_parser,
    directory,
    machine_info,
    machine_line,
    markdown_table,
    summarize,
    write_result,
)
from benchmarks.datagen import write_csv


def main(argv: list[str] | None = None) -> int:
    import distributed

    from contract.artifacts import resolve_model
    from scoring.batch import score_csv
    from scoring.distributed import score_distributed
    from scoring.runtimes import load_runtime

    parser = benchmark_parser("python -m benchmarks.distributed", __doc__)
    parser.add_argument("--model", type=Path, default=Path("artifacts/export"), help="export directory")
    parser.add_argument("--rows", type=int, default=2_000_000, help="generated input rows")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs of every variant")
    parser.add_argument("--blocksize", default="64MiB", help="the Dask job's block size (the CLI default)")
    parser.add_argument("--quick", action="store_true", help="50,000 rows, 1 repeat (smoke test)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="where the JSON goes")
    parser.add_argument("--workdir", type=directory, default=None,
                        help="where the generated CSVs go, created if missing (default: a temp dir)")
    args = parser.parse_args(argv)
    rows, repeats, blocksize = (50_000, 1, "1MiB") if args.quick else (args.rows, args.repeats, args.blocksize)
    runtime = load_runtime(resolve_model(args.model, "onnx"))
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp, \
            distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as c1, \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c2, \
            distributed.Client(c1) as one, distributed.Client(c2) as two:
        src = write_csv(Path(tmp) / "input.csv", rows)
        out = Path(tmp) / "out"
        variants = {
            "single-machine scorer (onnx)": lambda: score_csv(src, out / "single.csv", runtime=runtime),
            "dask, 1 worker": lambda: score_distributed([str(src)], out / "d1", one, model=args.model,
                                                        blocksize=blocksize, overwrite=True),
            "dask, 2 workers": lambda: score_distributed([str(src)], out / "d2", two, model=args.model,
                                                         blocksize=blocksize, overwrite=True),
        }
        out.mkdir()
        for run in variants.values():  # warm-up: plugin set-up on the workers, page cache
            run()
        seconds: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(repeats):
            for name, run in variants.items():
                start = time.perf_counter()
                run()
                seconds[name].append(time.perf_counter() - start)
        shutil.rmtree(out)
    stats = {name: {"seconds": summarize(s), "rows_per_second": summarize([rows / x for x in s])}
             for name, s in seconds.items()}
    median = {name: s["seconds"]["median"] for name, s in stats.items()}
    single = median["single-machine scorer (onnx)"]
    ratios = {"overhead_1_worker": median["dask, 1 worker"] / single,
              "speedup_2_workers_vs_single": single / median["dask, 2 workers"]}
    info = machine_info()
    print(f"Dask vs. single machine, {rows:,} rows, blocksize {blocksize}, median of {repeats} interleaved runs "
          f"(clusters started before timing) on {machine_line(info)}\n")
    print(markdown_table(["variant", "s (median)", "s (min-max)", "M rows/s"],
                         [[n, f"{s['seconds']['median']:.2f}", f"{s['seconds']['min']:.2f}-{s['seconds']['max']:.2f}",
                           f"{s['rows_per_second']['median'] / 1e6:.3f}"] for n, s in stats.items()]))
    print(f"\nOverhead of the Dask job on 1 worker: {ratios['overhead_1_worker']:.2f}x the single-machine time; "
          f"2 workers vs. single machine: {ratios['speedup_2_workers_vs_single']:.2f}x the speed.")
    name = "distributed_quick" if args.quick else "distributed"
    path = write_result(name, {"rows": rows, "blocksize": blocksize, "repeats": repeats, "stats": stats,
                               "ratios": ratios}, args.results_dir)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
