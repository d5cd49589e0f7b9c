"""Dask scale-out by simulation: 1-core workers in separate processes, throughput for 1 and 2 workers, the
per-block overhead for 16/64/256 MiB blocks, and from those a projection for 8/32/128 workers."""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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

MIB = 1 << 20
BYTES_PER_ROW = 229  # of benchmarks.datagen's rows (2,000,000 rows are 438 MiB)
PROJECTED_WORKERS = (8, 32, 128)
PROJECTED_BLOCKS = 1024  # e.g. a 64 GiB input in 64 MiB blocks (the default)
NOOP_TASKS = 2000


@contextlib.contextmanager
def pinned_cluster(cores: list[int], workdir: Path) -> Iterator[Any]:
    """A scheduler in this process and one ``dask worker`` process per core, each pinned to its core (set
    before exec, so every thread the worker starts inherits it); a client for them."""
    import distributed

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                                        os.environ.get("PYTHONPATH", "")])}
    with distributed.LocalCluster(n_workers=0, processes=True, dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", cluster.scheduler_address,
                                   "--nthreads", "1", "--nworkers", "1", "--no-nanny", "--no-dashboard",
                                   "--local-directory", str(workdir / f"worker-{len(cores)}-{core}")],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  preexec_fn=lambda core=core: os.sched_setaffinity(0, {core}))
                 for core in cores]
        try:
            client.wait_for_workers(len(cores), timeout=120)
            yield client
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=30)


def score_whole_files(paths: list[str], out_dir: str, plugin: str) -> dict[str, float]:
    """Runs on a pinned worker: the single-machine scorer on each whole file, with the worker's loaded model."""
    from distributed import get_worker

    from scoring.batch import score_csv

    runtime = get_worker().plugins[plugin].runtime
    started, rows = time.perf_counter(), 0
    for i, path in enumerate(paths):
        rows += score_csv(source=path, output=f"{out_dir}/single-{i}.csv", runtime=runtime).rows
    return {"seconds": time.perf_counter() - started, "rows": rows}


def spin(iterations: int = 10_000_000) -> float:
    """Pure-Python CPU work with no I/O: its seconds measure the core this worker is pinned to."""
    started, total = time.perf_counter(), 0
    for i in range(iterations):
        total += i
    return time.perf_counter() - started


def run_variants(clients: dict[int, Any], files: list[str], tiny: str, model: Path, blocksizes: list[int],
                 out: Path, repeats: int) -> dict[str, list[dict[str, Any]]]:
    """Interleaved repeats of every variant; each run's wall seconds, blocks and summed task stage seconds."""
    from scoring.distributed import score_distributed

    def job(workers: int, paths: list[str], blocksize: int) -> dict[str, Any]:
        started = time.perf_counter()
        summary = score_distributed(paths, out / f"d{workers}", clients[workers], model=model, blocksize=blocksize,
                                    overwrite=True)
        return {"wall": time.perf_counter() - started, "blocks": summary.blocks, "rows": summary.rows,
                "task_seconds": summary.task_seconds}

    def single() -> dict[str, Any]:
        plugin = next(n for n in clients[1].run(lambda dask_worker: list(dask_worker.plugins)).popitem()[1]
                      if n.startswith("wdbc-model"))
        started = time.perf_counter()
        inner = clients[1].submit(score_whole_files, files, str(out), plugin, pure=False).result()
        return {"wall": time.perf_counter() - started, "rows": inner["rows"], "inner": inner["seconds"]}

    def calibrate(workers: int) -> dict[str, Any]:
        """How much parallel capacity the shared machine gives right now: spin on 1 or on 2 pinned workers."""
        client = clients[max(clients)]
        addresses = sorted(client.scheduler_info()["workers"])[:workers]
        started = time.perf_counter()
        inner = [f.result() for f in [client.submit(spin, workers=[a], pure=False) for a in addresses]]
        return {"wall": time.perf_counter() - started, "inner": max(inner)}

    def noop_tasks() -> dict[str, Any]:
        """The scheduler's own limit: trivial tasks through it, as fast as 2 workers take them."""
        client = clients[max(clients)]
        started = time.perf_counter()
        client.gather(client.map(int, range(NOOP_TASKS), pure=False))
        return {"wall": time.perf_counter() - started, "tasks": NOOP_TASKS}

    variants = {"single-machine scorer, 1 core": single, f"scheduler: {NOOP_TASKS:,} no-op tasks": noop_tasks, "fixed cost: 1-row job, 1 worker": lambda: job(1, [tiny], MIB),
                "calibration: CPU spin on 1 worker": lambda: calibrate(1)}
    if 2 in clients:
        variants["calibration: CPU spin on 2 workers at once"] = lambda: calibrate(2)
    for workers in sorted(clients):
        for size in blocksizes:
            variants[f"dask, {workers} worker(s), {size // MIB} MiB blocks"] = (
                lambda w=workers, s=size: job(w, files, s))
    for workers in sorted(clients):  # warm-up: model plugin on every worker, page cache
        job(workers, files[:1], blocksizes[0])
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, run in variants.items():
            runs[name].append(run())
    return runs


def _dask(runs: dict[str, list[dict[str, Any]]], workers: int, size: int) -> list[dict[str, Any]]:
    return runs[f"dask, {workers} worker(s), {size // MIB} MiB blocks"]


def analyse(runs: dict[str, list[dict[str, Any]]], clients: list[int], blocksizes: list[int], total_bytes: int
            ) -> dict[str, Any]:
    """Ratios are taken within each repeat (the variants ran interleaved, so a repeat's runs are neighbours in
    time) and then summarized: the shared machine's load drifts between repeats more than within one."""
    single = [r["inner"] for r in runs["single-machine scorer, 1 core"]]
    fixed = [r["wall"] for r in runs["fixed cost: 1-row job, 1 worker"]]
    per_block: dict[str, Any] = {}
    for size in blocksizes:
        one = _dask(runs, 1, size)
        blocks = one[0]["blocks"]
        busy = [r["wall"] - f for r, f in zip(one, fixed)]  # the job's time beyond its fixed cost
        fractions = {s: summarize([r["task_seconds"][s] / b for r, b in zip(one, busy)])
                     for s in ("stage", "score", "publish")}
        fractions["scheduling"] = summarize([1 - sum(r["task_seconds"][s] for s in ("stage", "score", "publish")) / b
                                             for r, b in zip(one, busy)])
        per_block[str(size // MIB)] = {
            "blocks": blocks, "block_seconds": statistics.median(b / blocks for b in busy),
            "fractions": fractions,
            # against the single-machine scorer reading the same bytes whole, on the same kind of core
            "overhead_fraction": summarize([1 - s / b for s, b in zip(single, busy)]),
        }
    result: dict[str, Any] = {
        "single_core_mib_per_second": total_bytes / MIB / statistics.median(single),
        "fixed_job_seconds": statistics.median(fixed), "per_block": per_block,
        "mib_per_second": {f"{w}x{size // MIB}": total_bytes / MIB / statistics.median(r["wall"] for r in _dask(runs, w, size))
                           for w in clients for size in blocksizes},
        "scheduler_tasks_per_second": statistics.median(
            r["tasks"] / r["wall"] for r in runs[f"scheduler: {NOOP_TASKS:,} no-op tasks"]),
        "speedup_2_vs_1": {}, "parallel_capacity_of_2_cores": None, "speedup_2_vs_1_per_core_given": {},
    }
    if 2 in clients:  # capacity: 2.0 on an idle machine with two real cores; less when other jobs share them
        alone = [r["inner"] for r in runs["calibration: CPU spin on 1 worker"]]
        both = [r["inner"] for r in runs["calibration: CPU spin on 2 workers at once"]]
        capacity = [2 * a / b for a, b in zip(alone, both)]
        result["parallel_capacity_of_2_cores"] = summarize(capacity)
        for size in blocksizes:
            speedup = [a["wall"] / b["wall"] for a, b in zip(_dask(runs, 1, size), _dask(runs, 2, size))]
            result["speedup_2_vs_1"][str(size // MIB)] = summarize(speedup)
            result["speedup_2_vs_1_per_core_given"][str(size // MIB)] = summarize(
                [x / c for x, c in zip(speedup, capacity)])
    size = min(blocksizes, key=lambda b: abs(b - 64 * MIB)) // MIB  # the default block size where measured
    result["projection"] = project(result["fixed_job_seconds"], per_block[str(size)]["block_seconds"], size,
                                   result["scheduler_tasks_per_second"])
    return result


def project(fixed: float, block_seconds: float, block_mib: int, tasks_per_second: float) -> dict[str, Any]:
    """A model, not a measurement: ``T(N) = fixed + max(ceil(blocks / N) * block_seconds, blocks / tasks_per_second)``:
    every worker, on its own core, keeps the 1-worker block time (the store serves N times the bandwidth) until
    the scheduler's measured task rate is the limit. ``--merge`` (serial, on the client) is not included."""
    seconds = {n: fixed + max(math.ceil(PROJECTED_BLOCKS / n) * block_seconds, PROJECTED_BLOCKS / tasks_per_second)
               for n in (1, *PROJECTED_WORKERS)}
    return {"blocks": PROJECTED_BLOCKS, "block_mib": block_mib, "fixed_seconds": fixed, "block_seconds": block_seconds,
            "scheduler_tasks_per_second": tasks_per_second,
            "workers": {str(n): {"seconds": t, "mib_per_second": PROJECTED_BLOCKS * block_mib / t,
                                 "speedup_vs_1": seconds[1] / t, "efficiency": seconds[1] / t / n}
                        for n, t in seconds.items()}}


def report(result: dict[str, Any], stats: dict[str, Any], info: dict[str, Any]) -> None:
    print(f"Dask scale-out by simulation on {machine_line(info)}: {result['files']} files, "
          f"{result['total_mib']:.0f} MiB, medians of {result['repeats']} interleaved runs, 1-core pinned workers\n")
    print(markdown_table(["variant", "s (median)", "s (min-max)"],
                         [[n, f"{s['median']:.2f}", f"{s['min']:.2f}-{s['max']:.2f}"] for n, s in stats.items()]))
    a = result["analysis"]
    print(f"\nsingle-machine scorer on 1 core: {a['single_core_mib_per_second']:.1f} MiB/s; fixed cost of a job: "
          f"{a['fixed_job_seconds']:.2f} s; scheduler: {a['scheduler_tasks_per_second']:,.0f} no-op tasks/s\n")
    pct = lambda x: f"{x['median']:.1%} ({x['min']:.1%} to {x['max']:.1%})"  # noqa: E731
    print(markdown_table(["block", "blocks", "s/block", "stage", "score", "publish", "scheduling", "overhead vs 1-core scorer"],
                         [[f"{k} MiB", v["blocks"], f"{v['block_seconds']:.3f}",
                           *(f"{v['fractions'][s]['median']:.1%}" for s in ("stage", "score", "publish", "scheduling")),
                           pct(v["overhead_fraction"])] for k, v in a["per_block"].items()]))
    print("\nMiB/s: " + ", ".join(f"{k}: {v:.1f}" for k, v in a["mib_per_second"].items()))
    if a["parallel_capacity_of_2_cores"]:
        c = a["parallel_capacity_of_2_cores"]
        print(f"parallel capacity the machine gave 2 pinned spinners: {c['median']:.2f} cores ({c['min']:.2f}-"
              f"{c['max']:.2f}); 2.00 means two free cores")
        for k, v in a["speedup_2_vs_1"].items():
            g = a["speedup_2_vs_1_per_core_given"][k]
            print(f"2 vs 1 worker, {k} MiB blocks: {v['median']:.2f}x ({v['min']:.2f}-{v['max']:.2f}); "
                  f"per core the machine gave: {g['median']:.2f} ({g['min']:.2f}-{g['max']:.2f})")
    p = a["projection"]
    print(f"projection ({p['blocks']} blocks of {p['block_mib']} MiB): " + ", ".join(
        f"{n} workers {w['mib_per_second']:.0f} MiB/s ({w['efficiency']:.0%})" for n, w in p["workers"].items()))


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser("python -m benchmarks.distributed_scaling", __doc__)
    parser.add_argument("--model", type=Path, default=Path("artifacts/export"), help="export directory")
    parser.add_argument("--files", type=int, default=4, help="generated input files")
    parser.add_argument("--file-mib", type=int, default=250, help="size of each generated input file, MiB")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs of every variant")
    parser.add_argument("--quick", action="store_true", help="2 files of 3 MiB, 1 MiB blocks, 1 repeat (smoke test)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="where the JSON goes")
    parser.add_argument("--workdir", type=directory, default=None,
                        help="where the generated CSVs go, created if missing (default: a temp dir)")
    args = parser.parse_args(argv)
    cores = sorted(os.sched_getaffinity(0))
    files, file_mib, repeats = (2, 3, 1) if args.quick else (args.files, args.file_mib, args.repeats)
    blocksizes = [MIB] if args.quick else [16 * MIB, 64 * MIB, 256 * MIB]
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        paths = [str(write_csv(work / f"in-{i}.csv", file_mib * MIB // BYTES_PER_ROW, seed=i)) for i in range(files)]
        tiny = str(write_csv(work / "tiny.csv", 1))
        total = sum(os.path.getsize(p) for p in paths)
        out = work / "out"
        out.mkdir()
        with contextlib.ExitStack() as stack:
            clients = {n: stack.enter_context(pinned_cluster(cores[:n], work)) for n in (1, 2) if n <= len(cores)}
            runs = run_variants(clients, paths, tiny, args.model, blocksizes, out, repeats)
        shutil.rmtree(out)
    stats = {name: summarize([r["wall"] for r in rs]) for name, rs in runs.items()}
    info = machine_info()
    result = {"files": files, "total_mib": total / MIB, "repeats": repeats, "cores": cores,
              "blocksizes_mib": [b // MIB for b in blocksizes], "stats": stats, "runs": runs,
              "analysis": analyse(runs, sorted(clients), blocksizes, total)}
    report(result, stats, info)
    path = write_result("distributed_scaling_quick" if args.quick else "distributed_scaling", result, args.results_dir)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
