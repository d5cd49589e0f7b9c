"""Model throughput: what a service embedding the model sees (rows/s, batch-1 latency, CLI start-up)."""

from __future__ import annotations

import contextlib
import gc
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import (
    RESULTS,
    benchmark_parser,
    interleaved,
    machine_info,
    machine_line,
    markdown_table,
    run_measured,
    summarize,
    write_result,
)
from contract.artifacts import DEFAULT_EXPORT_DIR, resolve_model
from contract.errors import ModelError
from contract.metadata import Metadata
from model.data import load_dataset
from model.wdbc import load_bundled

REPO = Path(__file__).resolve().parents[1]
BATCHES = (1, 64, 1_024, 65_536, 1_000_000)
RUNTIMES = ("onnx", "tf")
INTERPRETER = "python -c pass"
ORT_1, ORT_2, TF = "onnxruntime, 1 thread", "onnxruntime, 2 threads", "TensorFlow SavedModel"
NP_64, NP_32 = "numpy float64, the graph's own math (reference)", "numpy float32 x @ w, no standardization (reference)"
#: The MLP's reference: its float32 graph in numpy (standardize, dense layers, sigmoid, threshold).
NP_MLP = "numpy float32, the graph's own math (reference)"
Predict = Callable[[np.ndarray], dict[str, np.ndarray]]


@dataclass(frozen=True)
class Settings:
    batches: tuple[int, ...]
    repeats: int
    target_seconds: float  # per timed sample: enough calls to take about this long
    latency_calls: int
    latency_warmup: int
    latency_rounds: int
    startup_runs: int
    startup_warmup: int


FULL = Settings(BATCHES, 5, 0.2, 2_000, 200, 10, 5, 1)
QUICK = Settings(BATCHES[:-1], 3, 0.02, 300, 50, 3, 3, 0)


@dataclass(frozen=True)
class Params:
    """The served model's parameters, read from the SavedModel (float64, as the graph computes)."""

    mean: np.ndarray
    std: np.ndarray
    w: np.ndarray
    b: float
    threshold: np.float32


def load_params(saved_model: Path) -> Params:
    import tensorflow as tf

    c = tf.saved_model.load(str(saved_model)).classifier
    return Params(c.normalize.mean.numpy().astype(np.float64), c.normalize.std.numpy().astype(np.float64),
                  c.logistic.w.numpy()[:, 0].astype(np.float64), float(c.logistic.b.numpy()),
                  np.float32(c.threshold.numpy()))


def numpy_float64(p: Params) -> Predict:
    """The graph's math: standardize in float64, per-row dot, sigmoid, round to float32, threshold."""
    def predict(x: np.ndarray) -> dict[str, np.ndarray]:
        z = x.astype(np.float64)
        z -= p.mean
        z /= p.std
        logit = z @ p.w
        logit += p.b
        probability = (1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
        return {"probability": probability, "label": (probability > p.threshold).astype(np.int64)}
    return predict


def numpy_float32(p: Params) -> Predict:
    """All float32, standardization folded into w and b: one GEMV over the input, sigmoid, threshold."""
    w = (p.w / p.std).astype(np.float32)
    b = np.float32(p.b - p.mean @ (p.w / p.std))

    def predict(x: np.ndarray) -> dict[str, np.ndarray]:
        logit = x @ w
        logit += b
        probability = np.float32(1.0) / (np.float32(1.0) + np.exp(-logit))
        return {"probability": probability, "label": (probability > p.threshold).astype(np.int64)}
    return predict


def numpy_mlp(saved_model: Path, activation: str) -> Predict:
    """The MLP's float32 graph in numpy: standardize, dense layers with the activation, sigmoid, threshold."""
    import tensorflow as tf

    c = tf.saved_model.load(str(saved_model)).classifier
    mean, std = c.normalize.mean.numpy(), c.normalize.std.numpy()
    layers = [(k.numpy(), b.numpy()) for k, b in zip(c.mlp.kernels, c.mlp.biases)]
    act = {"relu": lambda z: np.maximum(z, np.float32(0)), "tanh": np.tanh}[activation]
    threshold = np.float32(c.threshold.numpy())

    def predict(x: np.ndarray) -> dict[str, np.ndarray]:
        h = (x - mean) / std
        for kernel, bias in layers[:-1]:
            h = act(h @ kernel + bias)
        logit = (h @ layers[-1][0] + layers[-1][1])[:, 0]
        probability = np.float32(1.0) / (np.float32(1.0) + np.exp(-logit))
        return {"probability": probability, "label": (probability > threshold).astype(np.int64)}
    return predict


def references(saved_model: Path, meta: Metadata) -> dict[str, Predict]:
    """numpy doing the model's own math (the first: the floor the agreement check holds to the model)."""
    if meta.family == "mlp":
        assert meta.activation is not None
        return {NP_MLP: numpy_mlp(saved_model, meta.activation)}
    params = load_params(saved_model)
    return {NP_64: numpy_float64(params), NP_32: numpy_float32(params)}


def load_variants(export: Path, meta: Metadata) -> dict[str, Predict]:
    """The scorer's own runtime classes, configured as the scorer configures them, and the numpy references."""
    from scoring.runtimes import OnnxRuntime, TensorFlowRuntime

    onnx_path, saved_model = resolve_model(export, "onnx").path, resolve_model(export, "tf").path
    tf_runtime = TensorFlowRuntime(saved_model, threads=1)  # first: sets TF's threads before TF runs an op
    return {ORT_1: OnnxRuntime(onnx_path, threads=1).predict, ORT_2: OnnxRuntime(onnx_path, threads=2).predict,
            TF: tf_runtime.predict, **references(saved_model, meta)}


def metadata(export: Path) -> Metadata:
    from contract.verify import read_metadata

    return read_metadata(resolve_model(export, "tf"))


def make_inputs(batches: tuple[int, ...], seed: int = 0) -> dict[int, np.ndarray]:
    """Real WDBC rows drawn with replacement: C-contiguous float32 [batch, 30], realistic logits."""
    rows = load_dataset().x
    rng = np.random.default_rng(seed)
    return {b: np.ascontiguousarray(rows[rng.integers(0, len(rows), size=b)]) for b in batches}


def agreement(variants: dict[str, Predict], x: np.ndarray, tolerance: float = 1e-6) -> dict[str, dict[str, float]]:
    """Max |probability difference| and label mismatches against ONNX (1 thread): all variants compute one model."""
    reference = variants[ORT_1](x)
    out = {}
    for name, predict in variants.items():
        got = predict(x)
        out[name] = {"max_abs_probability_diff": float(np.max(np.abs(got["probability"] - reference["probability"]))),
                     "label_mismatches": int(np.sum(got["label"] != reference["label"]))}
    floor = out[reference_name(variants)]
    if floor["max_abs_probability_diff"] > tolerance or floor["label_mismatches"]:
        raise AssertionError(f"the numpy reference does not compute the model: {floor}")
    return out


def calls_for(predict: Predict, x: np.ndarray, target: float) -> int:
    """Warm up, then estimate how many calls take about ``target`` seconds."""
    for _ in range(3 if len(x) < 100_000 else 1):
        predict(x)
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < target / 4:
        predict(x)
        calls += 1
    return max(1, round(target / (elapsed / calls)))


def repeat_calls(predict: Predict, x: np.ndarray, calls: int) -> Callable[[], None]:
    def run() -> None:
        for _ in range(calls):
            predict(x)
    return run


def throughput(variants: dict[str, Predict], inputs: dict[int, np.ndarray], s: Settings) -> dict[str, dict[str, Any]]:
    """Per batch size: A B C A B C ... ``repeats`` times, each sample ~``target_seconds`` of calls."""
    out: dict[str, dict[str, Any]] = {name: {} for name in variants}
    for batch, x in inputs.items():
        calls = {name: calls_for(predict, x, s.target_seconds) for name, predict in variants.items()}
        gc.collect()
        runs = interleaved({name: repeat_calls(p, x, calls[name]) for name, p in variants.items()}, s.repeats)
        for name, samples in runs.items():
            out[name][str(batch)] = {
                "calls": calls[name],
                "rows_per_second": summarize([calls[name] * batch / r["wall"] for r in samples]),
                "cpu_per_wall": summarize([r["cpu"] / r["wall"] for r in samples]),
            }
    return out


def latency(variants: dict[str, Predict], x: np.ndarray, s: Settings) -> dict[str, dict[str, float]]:
    """Batch-1 per-call latency, interleaved in rounds after a warm-up; p50 and p99 in microseconds."""
    for predict in variants.values():
        for _ in range(s.latency_warmup):
            predict(x)
    samples: dict[str, list[float]] = {name: [] for name in variants}
    per_round = s.latency_calls // s.latency_rounds
    clock = time.perf_counter
    gc.collect()
    for _ in range(s.latency_rounds):
        for name, predict in variants.items():
            times = samples[name]
            for _ in range(per_round):
                start = clock()
                predict(x)
                times.append(clock() - start)
    out = {}
    for name, times in samples.items():
        p50, p99 = np.percentile(np.array(times) * 1e6, [50, 99])
        out[name] = {"p50": float(p50), "p99": float(p99), "n": len(times)}
    return out


def startup_command(runtime: str, export: Path, source: Path, output: Path) -> list[str]:
    return [sys.executable, "-m", "scoring.batch", str(source), str(output), "--model", str(export),
            "--runtime", runtime, "--quiet"]


def run_once(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one run of ``command``."""
    report = run_measured(command, cwd=REPO)
    return report["wall"], report["peak_rss_mib"]


def startup(export: Path, s: Settings) -> dict[str, dict[str, Any]]:
    """``python -m scoring.batch`` on a 10-row CSV per runtime, interleaved: wall and peak RSS.

    ``python -c pass`` runs alongside as the interpreter's own share of both.
    """
    with tempfile.TemporaryDirectory(prefix="model_throughput_") as tmp:
        source = Path(tmp) / "ten_rows.csv"
        load_bundled().head(10).write_csv(source)
        commands = {r: startup_command(r, export, source, Path(tmp) / f"scored_{r}.csv") for r in RUNTIMES}
        commands[INTERPRETER] = [sys.executable, "-c", "pass"]
        for _ in range(s.startup_warmup):  # page cache, .pyc files
            for command in commands.values():
                run_once(command)
        runs: dict[str, list[tuple[float, float]]] = {r: [] for r in commands}
        for _ in range(s.startup_runs):
            for r, command in commands.items():
                runs[r].append(run_once(command))
    shown = {r: ["python", *c[1:3], "TEN_ROWS.csv", "OUT.csv", *c[5:]] for r, c in commands.items() if r in RUNTIMES}
    shown[INTERPRETER] = ["python", "-c", "pass"]
    return {r: {"wall_seconds": summarize([w for w, _ in samples]), "peak_rss_mib": summarize([m for _, m in samples]),
                "command": shown[r]} for r, samples in runs.items()}


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[int | str]:
    """numpy's BLAS on one thread, like onnxruntime's 1-thread session (threadpoolctl ships with scikit-learn)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield "default"
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield 1


def reference_name(variants: dict[str, Any]) -> str:
    """The numpy reference that does the model's own math."""
    return next(name for name in variants if name in (NP_64, NP_MLP))


def run(export: Path, s: Settings) -> dict[str, Any]:
    meta = metadata(export)
    family = meta.family
    variants = load_variants(export, meta)
    import tensorflow as tf

    from export.validate import TOLERANCES

    inputs = make_inputs(s.batches)
    with single_threaded_blas() as blas_threads:
        # float32 graphs agree with numpy to the export's float32 parity tolerance, float64 ones to the strict one.
        agree = agreement(variants, inputs[1_024], TOLERANCES["float32" if family == "mlp" else "float64"].probability)
        rates = throughput(variants, inputs, s)
        lat = latency(variants, inputs[1], s)
    del inputs
    gc.collect()
    return {
        "family": family, "quick": s is QUICK, "batches": list(s.batches), "repeats": s.repeats,
        "target_seconds": s.target_seconds,
        "threads": {"tensorflow_intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                    "numpy_blas": blas_threads},
        "agreement_vs_onnx": agree, "throughput": rates, "latency_us": lat, "startup": startup(export, s),
    }


def rate(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.0f}"


def throughput_table(result: dict[str, Any]) -> str:
    rows = []
    for name, by_batch in result["throughput"].items():
        cells = [f"{rate(r['median'])} ({rate(r['min'])}-{rate(r['max'])})"
                 for r in (by_batch[str(b)]["rows_per_second"] for b in result["batches"])]
        rows.append([name, *cells])
    return markdown_table(["rows/s, median (min-max)", *(f"batch {b:,}" for b in result["batches"])], rows)


def latency_table(result: dict[str, Any]) -> str:
    rows = [[name, f"{r['p50']:,.1f}", f"{r['p99']:,.1f}", f"{r['n']:,}"] for name, r in result["latency_us"].items()]
    return markdown_table(["batch 1, per call", "p50 us", "p99 us", "calls"], rows)


def startup_table(result: dict[str, Any]) -> str:
    rows = []
    for r, s in result["startup"].items():
        wall, rss = s["wall_seconds"], s["peak_rss_mib"]
        label = f"scoring.batch --runtime {r}" if r in RUNTIMES else f"{r} (reference)"
        rows.append([label, f"{wall['median']:.2f}", f"{wall['min']:.2f}-{wall['max']:.2f}", f"{rss['median']:.0f}",
                     wall["n"]])
    return markdown_table(["start-up, 10-row CSV", "wall s (median)", "wall s (min-max)", "peak RSS MiB", "runs"], rows)


def ratio_line(result: dict[str, Any]) -> str:
    batch = "65536" if "65536" in result["throughput"][ORT_1] else str(max(result["batches"]))
    numpy = reference_name(result["throughput"])
    ort, floor = (result["throughput"][n][batch]["rows_per_second"]["median"] for n in (ORT_1, numpy))
    lat = result["latency_us"]
    return (f"At batch {int(batch):,}, onnxruntime (1 thread) scores {rate(ort)} rows/s = {ort / floor:.2f}x the numpy "
            f"floor ({rate(floor)} rows/s, the graph's own math): near 1 means the runtime adds little over the "
            f"arithmetic and memory traffic of the model itself; at batch 1 the per-call overhead dominates instead "
            f"(p50 {lat[ORT_1]['p50']:.0f} us onnxruntime, {lat[TF]['p50']:.0f} us TensorFlow, "
            f"{lat[numpy]['p50']:.0f} us numpy).")


def plot(result: dict[str, Any], path: Path, title: str) -> Path:
    """Left: rows/s of each series (log-log). Right: each series relative to onnxruntime on 1 thread at the same
    batch size (linear), where the spread between runs (the shaded min-max band) is visible."""
    import matplotlib.ticker
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 5))
    FigureCanvasAgg(fig)
    absolute, relative = fig.subplots(1, 2)
    batches = np.array(result["batches"])
    reference = np.array([result["throughput"][ORT_1][str(b)]["rows_per_second"]["median"] for b in batches])
    for name, by_batch in result["throughput"].items():
        r = [by_batch[str(b)]["rows_per_second"] for b in batches]
        median, low, high = (np.array([x[k] for x in r]) for k in ("median", "min", "max"))
        for ax, scale in ((absolute, 1.0), (relative, reference)):
            line, = ax.plot(batches, median / scale, marker="o", label=name)
            ax.fill_between(batches, low / scale, high / scale, color=line.get_color(), alpha=0.2)
    absolute.set(xscale="log", yscale="log", xlabel="batch size (rows per call)", ylabel="rows/s",
                 title="rows/s: median of the runs, shaded from the slowest to the fastest")
    relative.set(xscale="log", yscale="log", xlabel="batch size (rows per call)",
                 ylabel="rows/s / onnxruntime 1 thread's median", title="relative to onnxruntime, 1 thread (= 1)")
    relative.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    relative.axhline(1.0, color="grey", linewidth=0.8)
    for ax in (absolute, relative):
        ax.grid(True, which="both", alpha=0.3)
    absolute.legend(fontsize=8, loc="upper left")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser("python -m benchmarks.model_throughput", __doc__)
    parser.add_argument("--quick", action="store_true", help="3 repeats, short samples, no 1M batch (smoke test)")
    parser.add_argument("--model", type=Path, default=DEFAULT_EXPORT_DIR, help="export directory (default: %(default)s)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="where JSON and PNG go (default: %(default)s)")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    try:
        result = run(args.model.resolve(), settings)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    info = machine_info()
    name = "model_throughput" if result["family"] == "logreg" else f"model_throughput_{result['family']}"
    name += "_quick" if args.quick else ""
    args.results_dir.mkdir(parents=True, exist_ok=True)
    png = plot(result, args.results_dir / f"{name}.png",
               f"WDBC model ({result['family']}) rows/s vs batch size, {machine_line(info)}")
    result["plot"] = png.name
    print(f"Model throughput, median of {settings.repeats} interleaved samples of ~{settings.target_seconds} s each "
          f"on {machine_line(info)}\n")
    print(throughput_table(result), end="\n\n")
    print(latency_table(result), end="\n\n")
    print(startup_table(result), end="\n\n")
    print(ratio_line(result))
    print(f"numpy BLAS threads: {result['threads']['numpy_blas']}; "
          f"TensorFlow intra-op threads: {result['threads']['tensorflow_intra_op']}.")
    path = write_result(name, result, directory=args.results_dir)
    print(f"wrote {path} and {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
