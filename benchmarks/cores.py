"""Scaling with cores: every variant pinned to 1 core and to 2 (or more), its ratio to the no-model ceiling at each,
as whole processes (start-up included) and as timed parts (start-up and model load left out); and each stage of
the scorer (parse, convert, infer, write) on 1 and 2 cores, with the share of its time it holds the GIL."""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import (
    core_sets,
    machine_info,
    machine_line,
    markdown_table,
    run_measured,
    scorer_parser,
    summarize,
    write_result,
)
from benchmarks.datagen import write_csv
from benchmarks.runner import run_worker, worker_stats

#: Timed parts (benchmarks.scoring_worker), each against the same process's ceiling.
TIMED = ["ceiling-polars", "ours-onnx", "ours-tf", "ours-onnx-blocks"]
#: Whole processes, as a user runs them: name -> (command, reads stdin).
CEILING = "ceiling"
STAGES = ("parse", "convert", "infer", "write")
#: Rows per stage sample, and how many times they are pushed through a stage per measurement.
STAGE_ROWS, STAGE_ROUNDS = 200_000, 4


def process_commands(src: Path, out: Path, model: Path) -> dict[str, tuple[list[str], Path | None]]:
    scorer = [sys.executable, "-m", "scoring.batch"]
    return {
        CEILING: ([sys.executable, str(Path(__file__).with_name("ceiling.py")), str(src), str(out)], None),
        "onnx": ([*scorer, str(src), str(out), "--model", str(model), "--quiet"], None),
        "tf": ([*scorer, str(src), str(out), "--model", str(model), "--runtime", "tf", "--quiet"], None),
        "blocks (stdin, --on-error skip)": ([*scorer, "-", str(out), "--model", str(model), "--quiet", "--on-error",
                                             "skip", "--rejects", f"{out}.rejects.csv"], src),
    }


def paired_ratios(runs: list[dict[str, float]], name: str) -> dict[str, float]:
    """Ceiling seconds / variant seconds within each repeat (so that drifts in the machine's load cancel)."""
    return summarize([run[CEILING] / run[name] for run in runs])


def measure_processes(src: Path, workdir: Path, model: Path, cores: list[int], repeats: int,
                      tf: bool = True) -> dict[str, Any]:
    commands = {name: c for name, c in process_commands(src, workdir / "out.csv", model).items() if tf or name != "tf"}
    runs: list[dict[str, float]] = []
    rss: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        run = {}
        for name, (command, stdin) in commands.items():
            report = run_measured(command, cores=cores, stdin=stdin)
            run[name] = report["wall"]
            rss[name].append(report["peak_rss_mib"])
        runs.append(run)
    return {
        "seconds": {name: summarize([run[name] for run in runs]) for name in commands},
        "peak_rss_mib": {name: summarize(values) for name, values in rss.items()},
        "ratio_to_ceiling": {name: paired_ratios(runs, name) for name in commands if name != CEILING},
    }


def measure_timed(src: Path, workdir: Path, model: Path, cores: list[int], repeats: int, rows: int,
                  tf: bool = True) -> dict[str, Any]:
    variants = [v for v in TIMED if tf or v != "ours-tf"]
    samples: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for _ in range(repeats):
        for variant in variants:
            samples[variant].append(run_worker(variant, src, workdir / f"{variant}.csv", model, cores))
    ratios = {v: summarize([c["seconds"] / s["seconds"] for c, s in zip(samples["ceiling-polars"], samples[v])])
              for v in variants[1:]}
    return {"stats": {v: worker_stats(s, rows) for v, s in samples.items()}, "ratio_to_ceiling": ratios}


# --- stages, in a process of their own pinned to n cores ------------------------------------------------


def stage_inputs(src: Path, model: Path) -> dict[str, Any]:
    """Every stage's input, made before any clock starts: blocks of bytes, parsed frames, scores, output frames."""
    import polars as pl

    from contract.artifacts import resolve_model
    from scoring.batch import open_blocks, outputs_for
    from scoring.io.layout import Columns
    from scoring.io.sources import Source
    from scoring.runtimes import load_runtime

    runtime = load_runtime(resolve_model(model, "onnx"))
    with Source(src) as source:
        layout, blocks = open_blocks(source, runtime.info, Columns(), 16_384)
        data, rows = [], 0
        for block in blocks:
            data.append(block.data)
            rows += block.data.count(b"\n")
            if rows >= STAGE_ROWS:
                break
    frames = [pl.read_csv(d, has_header=False, separator=layout.separator, schema=layout.polars_schema,
                          columns=layout.projection) for d in data]
    matrices = [layout.feature_matrix(f) for f in frames]
    scores = [runtime.predict(x) for x in matrices]
    outputs = outputs_for(runtime.info, False)
    return {"runtime": runtime, "layout": layout, "data": data, "frames": frames, "matrices": matrices,
            "scores": scores, "outputs": outputs, "rows": sum(f.height for f in frames),
            "written": [outputs.frame(layout.kept_columns(f), s["probability"], s["label"]) for f, s in zip(frames, scores)]}


def stage_work(stage: str, inputs: dict[str, Any]) -> list[Callable[[], object]]:
    """One callable per item (a block of about 16k rows) of ``stage``: what both engines do with a morsel."""
    import polars as pl

    layout, runtime, outputs = inputs["layout"], inputs["runtime"], inputs["outputs"]

    def convert(frame: pl.DataFrame, score: dict) -> None:  # the Python step around the model
        x = layout.feature_matrix(frame)
        layout.doubtful(frame, x)
        outputs.frame(layout.kept_columns(frame), score["probability"], score["label"])

    if stage == "parse":
        return [lambda d=d: pl.read_csv(d, has_header=False, separator=layout.separator, schema=layout.polars_schema,
                                        columns=layout.projection) for d in inputs["data"]]
    if stage == "convert":
        return [lambda f=f, s=s: convert(f, s) for f, s in zip(inputs["frames"], inputs["scores"])]
    if stage == "infer":
        return [lambda x=x: runtime.predict(x) for x in inputs["matrices"]]
    if stage == "write":
        return [lambda f=f: f.write_csv(io.BytesIO()) for f in inputs["written"]]
    raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")


def run_threads(work: list[Callable[[], object]], threads: int, rounds: int) -> float:
    """Seconds for ``threads`` threads to run every item ``rounds`` times between them."""
    items = work * rounds
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not items:
                    return
                item = items.pop()
            item()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    start = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return time.perf_counter() - start


def gil_share(work: list[Callable[[], object]], slices: int = 8, seconds: float = 0.25) -> float:
    """The share of a stage's running time that it holds the GIL: a pure-Python counter on the other core runs
    at rate r alone and at r x (1 - share) beside the stage (polars is held to one thread for this, so that
    the stage uses one core). Alone and beside alternate in short slices, so the machine's drifting load
    falls on both alike."""
    counts = {False: 0, True: 0}
    elapsed = {False: 0.0, True: 0.0}
    for i in range(2 * slices):
        beside = bool(i % 2)
        stop, into = threading.Event(), []
        counter = threading.Thread(target=_count, args=(stop, into))
        start = time.perf_counter()
        counter.start()
        items = iter(work * 1000)
        while time.perf_counter() - start < seconds:
            if beside:
                next(items)()
            else:
                time.sleep(0.005)
        stop.set()
        counter.join()
        counts[beside] += into[0]
        elapsed[beside] += time.perf_counter() - start
    alone, beside_rate = counts[False] / elapsed[False], counts[True] / elapsed[True]
    return max(0.0, 1.0 - beside_rate / alone)


def _count(stop: threading.Event, into: list[int]) -> None:
    n = 0
    while not stop.is_set():
        for _ in range(1000):
            n += 1
    into.append(n)


def stage_main(stage: str, src: Path, model: Path, gil: bool) -> dict[str, Any]:
    inputs = stage_inputs(src, model)
    work = stage_work(stage, inputs)
    threads = len(os.sched_getaffinity(0))
    run_threads(work, threads, 1)  # warm-up
    seconds = run_threads(work, threads, STAGE_ROUNDS)
    result = {"rows_per_second": inputs["rows"] * STAGE_ROUNDS / seconds, "threads": threads}
    if gil:
        result["gil_share"] = gil_share(work)
    return result


def measure_stage(stage: str, src: Path, model: Path, cores: list[int], gil: bool = False) -> dict[str, Any]:
    env = {"POLARS_MAX_THREADS": "1"} if gil else {}
    command = [sys.executable, "-m", "benchmarks.cores", "--stage", stage, "--stage-input", str(src),
               "--model", str(model), *(["--gil"] if gil else [])]
    previous = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        report = run_measured(command, cores=cores)
    finally:
        for key, value in previous.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
    return json.loads(report["stdout"].strip().splitlines()[-1])


def measure_stages(src: Path, model: Path, sets: dict[int, list[int]], repeats: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for stage in STAGES:
        by_cores = {n: summarize([measure_stage(stage, src, model, cores)["rows_per_second"] for _ in range(repeats)])
                    for n, cores in sets.items()}
        two = sets.get(2) or sets[max(sets)]
        share = summarize([measure_stage(stage, src, model, two, gil=True)["gil_share"] for _ in range(repeats)])
        out[stage] = {"rows_per_second": {str(n): s for n, s in by_cores.items()}, "gil_share": share}
    return out


# --- report ---------------------------------------------------------------------------------------------


def tables(result: dict[str, Any]) -> str:
    counts = list(result["processes"])
    proc_rows = []
    for name in result["processes"][counts[0]]["seconds"]:
        row = [name]
        for n in counts:
            p = result["processes"][n]
            s = p["seconds"][name]
            ratio = p["ratio_to_ceiling"].get(name)
            row.append(f"{s['median']:.2f} ({s['min']:.2f}-{s['max']:.2f})")
            row.append("-" if ratio is None else f"{ratio['median']:.2f}x ({ratio['min']:.2f}-{ratio['max']:.2f})")
        proc_rows.append(row)
    header = ["whole process"] + [h for n in counts for h in (f"s, {n} core(s)", f"vs ceiling, {n} core(s)")]
    timed_rows = []
    for variant in result["timed"][counts[0]]["stats"]:
        row = [variant]
        for n in counts:
            t = result["timed"][n]
            rate = t["stats"][variant]["rows_per_second"]["median"] / 1e6
            ratio = t["ratio_to_ceiling"].get(variant)
            row.append(f"{rate:.3f}")
            row.append("-" if ratio is None else f"{ratio['median']:.2f}x ({ratio['min']:.2f}-{ratio['max']:.2f})")
            row.append(f"{t['stats'][variant]['setup_seconds']['median']:.2f}")
        timed_rows.append(row)
    timed_header = ["timed part"] + [h for n in counts for h in (f"M rows/s, {n}", f"vs ceiling, {n}",
                                                                   f"start-up s, {n}")]
    stage_rows = []
    for stage, s in result["stages"].items():
        rates = s["rows_per_second"]
        per_core = [rates[n]["median"] / int(n) / 1e6 for n in rates]
        stage_rows.append([stage, *(f"{rates[n]['median'] / 1e6:.2f}" for n in rates),
                           f"{rates[list(rates)[-1]]['median'] / rates['1']['median']:.2f}x",
                           f"{s['gil_share']['median']:.0%}", f"{per_core[0]:.2f}"])
    stage_header = ["stage", *(f"M rows/s, {n} core(s)" for n in result["stages"]["parse"]["rows_per_second"]),
                    "speed-up", "GIL held", "M rows/s per core"]
    return "\n\n".join([markdown_table(header, proc_rows), markdown_table(timed_header, timed_rows),
                        markdown_table(stage_header, stage_rows)])


def main(argv: list[str] | None = None) -> int:
    parser = scorer_parser("python -m benchmarks.cores", __doc__, 2_000_000, 5,
                           "20,000 rows, 1 repeat, no TensorFlow variant (smoke test)")
    parser.add_argument("--stage", choices=STAGES, default=None, help="(internal) measure one stage in this process")
    parser.add_argument("--stage-input", type=Path, default=None, help="(internal) the CSV the stage samples")
    parser.add_argument("--gil", action="store_true", help="(internal) also measure the stage's GIL share")
    args = parser.parse_args(argv)
    if args.stage:
        print(json.dumps(stage_main(args.stage, args.stage_input, args.model.resolve(), args.gil)))
        return 0
    rows, repeats = (20_000, 1) if args.quick else (args.rows, args.repeats)
    model, sets = args.model.resolve(), core_sets()
    load = [os.getloadavg()]
    result: dict[str, Any] = {"rows": rows, "repeats": repeats, "cores": {str(n): c for n, c in sets.items()},
                              "processes": {}, "timed": {}}
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        src = write_csv(Path(tmp) / "input.csv", rows)
        result["bytes"] = src.stat().st_size
        for n, cores in sets.items():  # whole processes and timed parts at every core count
            result["processes"][str(n)] = measure_processes(src, Path(tmp), model, cores, repeats, not args.quick)
            result["timed"][str(n)] = measure_timed(src, Path(tmp), model, cores, repeats, rows, not args.quick)
            load.append(os.getloadavg())
        result["stages"] = measure_stages(src, model, sets, max(1, min(repeats, 3)))
        load.append(os.getloadavg())
    result["load_average_1_5_15min"] = load
    info = machine_info()
    print(f"Cores: {rows:,} rows ({result['bytes'] / 2**20:.0f} MiB), median of {repeats} interleaved runs per core "
          f"count, on {machine_line(info)}; load averages during the run: "
          f"{min(l[0] for l in load):.1f} to {max(l[0] for l in load):.1f}\n")
    print(tables(result))
    name = "cores_quick" if args.quick else "cores"
    print(f"\nwrote {write_result(name, result, args.results_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
