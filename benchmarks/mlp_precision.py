"""What precision an MLP's graph should serve in: float32 parity over several trained MLPs, and float64's cost.

For each MLP (trained with the defaults on WDBC, rings or XOR) the export's own parity checks run with the
check loosened, and the largest difference of each kind is kept: TensorFlow vs onnxruntime, and each runtime
at a batch size vs one call on every row. These set the float32 tolerance in ``export/validate.py``. Then the
default MLP's graph is converted a second time computing in float64 instead, and both graphs' onnxruntime
throughput and agreement are measured side by side.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, benchmark_parser, machine_info, machine_line, markdown_table, summarize, \
    write_result

#: (name, table, --hidden, --activation, --seed): the table is None for the bundled WDBC, or a benchmarks.families
#: table written as a CSV.
MLPS = (
    ("WDBC, 32,16 relu", None, (32, 16), "relu", 22),
    ("WDBC, 32,16 relu, seed 5", None, (32, 16), "relu", 5),
    ("WDBC, 32,16 tanh", None, (32, 16), "tanh", 22),
    ("WDBC, 128,64,32 relu", None, (128, 64, 32), "relu", 22),
    ("WDBC, 8 relu", None, (8,), "relu", 22),
    ("rings, 32,16 relu", "rings", (32, 16), "relu", 22),
    ("XOR, 32,16 tanh", "xor", (32, 16), "tanh", 22),
)
LABELS = {"rings": "ring", "xor": "same_sign"}
KINDS = ("tf-vs-onnx", "tf-vs-tf-whole", "onnx-vs-onnx-whole")


def parity_of(name: str, table: str | None, hidden: tuple[int, ...], activation: str, seed: int,
              directory: Path) -> dict[str, Any]:
    """Train, save and export one MLP with the parity check loosened; the worst difference of each kind."""
    from benchmarks import families
    from export.pipeline import export_model
    from export.validate import Tolerance
    from model.config import DataSpec
    from model.families import ModelSpec
    from model.fit import FitConfig
    from model.run import save_run, train

    data = None
    if table is not None:
        path = directory / f"{table}.csv"
        getattr(families, table)().to_csv(path, index=False)
        data = DataSpec(str(path), label=LABELS[table], stratify=True)
    run = directory / name.replace(" ", "").replace(",", "-")
    save_run(train(FitConfig(seed=seed), data, model_spec=ModelSpec.of("mlp", hidden, activation)), run / "model")
    loose = Tolerance(probability=1.0, logit=1.0, label_margin=1e-3)
    report = export_model(run / "model", run / "export", tolerance=loose)
    worst: dict[str, dict[str, float]] = {}
    for check, c in report["comparisons"].items():
        kind = next(k for k in KINDS if check.endswith(k))
        w = worst.setdefault(kind, {"probability": 0.0, "logit_relative": 0.0, "labels_differing": 0})
        w["probability"] = max(w["probability"], c["probability_max_abs_diff"])
        w["logit_relative"] = max(w["logit_relative"], c["logit_max_rel_diff"])
        w["labels_differing"] += c["label_mismatches"] + c["label_mismatches_near_threshold"]
    return {"mlp": name, "worst": worst, "export": str(run / "export")}


def float64_graph(export: Path, model_dir: Path) -> Any:
    """The default MLP's serving graph converted again, computing in float64 (standardization included)."""
    import tensorflow as tf
    import tf2onnx

    from export.signature import ServingModule
    from model.checkpoint import load_classifier
    from model.mlp import ACTIVATION_FUNCTIONS

    classifier, _ = load_classifier(model_dir)
    net = classifier.net

    def logit64(x: tf.Tensor, normalize: Any) -> tf.Tensor:
        def f64(v: tf.Tensor) -> tf.Tensor:
            return tf.cast(v, tf.float64)

        h = (f64(x) - f64(normalize.mean)) / f64(normalize.std)
        for kernel, bias in zip(net.kernels[:-1], net.biases[:-1]):
            h = ACTIVATION_FUNCTIONS[net.activation](tf.matmul(h, f64(kernel)) + f64(bias))
        return tf.squeeze(tf.matmul(h, f64(net.kernels[-1])) + f64(net.biases[-1]), axis=1)

    net.serving_logit = logit64  # this instance only: the float64 variant exists here, nowhere else
    module = ServingModule(classifier)
    model, _ = tf2onnx.convert.from_function(module.serve, input_signature=module.input_signature, opset=17)
    return model.SerializeToString(), module


def precision_cost(export: Path, model_dir: Path, repeats: int, rows: int = 65_536) -> dict[str, Any]:
    """onnxruntime rows/s of the float32 export and of the float64 variant on one thread, interleaved; and how
    each agrees with its own SavedModel graph in TensorFlow, whole and in batches of 7."""
    import onnxruntime as ort
    import tensorflow as tf

    from benchmarks.datagen import make_frame

    x = np.ascontiguousarray(make_frame(rows, seed=11).drop("id").to_numpy(), np.float32)
    f64_bytes, f64_module = float64_graph(export, model_dir)
    f32_saved = tf.saved_model.load(str(export / "saved_model")).signatures["serving_default"]
    graphs = {"float32 (the export)": ((export / "model.onnx").read_bytes(), lambda v: f32_saved(features=v)),
              "float64 variant": (f64_bytes, lambda v: f64_module.serve(v))}
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    sessions = {name: ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
                for name, (data, _) in graphs.items()}
    rates: dict[str, list[float]] = {name: [] for name in graphs}
    for session in sessions.values():
        session.run(None, {"features": x})
    for _ in range(repeats):
        for name, session in sessions.items():
            start = time.perf_counter()
            for _ in range(5):
                session.run(None, {"features": x})
            rates[name].append(5 * rows / (time.perf_counter() - start))
    out = {}
    for name, (_, tf_call) in graphs.items():
        onnx_p = sessions[name].run(["probability"], {"features": x})[0]
        tf_p = tf_call(tf.constant(x))["probability"].numpy()
        tf_7 = np.concatenate([tf_call(tf.constant(x[i:i + 7]))["probability"].numpy() for i in range(0, 7_000, 7)])
        out[name] = {"onnx_rows_per_second_1_thread": summarize(rates[name]),
                     "tf_vs_onnx_max_abs_probability": float(np.max(np.abs(onnx_p.astype(np.float64) - tf_p))),
                     "tf_vs_onnx_rows_differing": int(np.sum(onnx_p != tf_p)),
                     "tf_batch7_vs_whole_rows_differing_of_7000": int(np.sum(tf_7 != tf_p[:7_000]))}
    return {"rows": rows, "graphs": out}


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser("python -m benchmarks.mlp_precision", __doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one MLP, one repeat (smoke test)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved throughput samples (default: 5)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args(argv)
    mlps = MLPS[:1] if args.quick else MLPS
    with tempfile.TemporaryDirectory(prefix="mlp_precision_") as tmp:
        parity = [parity_of(*spec, directory=Path(tmp)) for spec in mlps]
        default = Path(parity[0]["export"])
        cost = precision_cost(default, default.parent / "model", 1 if args.quick else args.repeats)
    info = machine_info()
    print(f"MLP precision on {machine_line(info)}\n")
    rows = [[p["mlp"], *(f"{p['worst'][k]['probability']:.2g}" for k in KINDS),
             f"{p['worst']['tf-vs-onnx']['logit_relative']:.2g}",
             sum(w["labels_differing"] for w in p["worst"].values())] for p in parity]
    print(markdown_table(["MLP", "TF vs ONNX: probability", "TF batch vs whole", "ONNX batch vs whole",
                          "TF vs ONNX: logit (relative)", "labels differing"], rows))
    print()
    print(markdown_table(["graph", "onnxruntime rows/s, 1 thread (median)", "TF vs ONNX: max abs probability diff",
                          "rows differing", "TF batch 7 vs whole: rows differing (of 7,000)"],
                         [[name, f"{g['onnx_rows_per_second_1_thread']['median'] / 1e6:.2f}M",
                           f"{g['tf_vs_onnx_max_abs_probability']:.2g}", f"{g['tf_vs_onnx_rows_differing']:,}",
                           g["tf_batch7_vs_whole_rows_differing_of_7000"]] for name, g in cost["graphs"].items()]))
    for p in parity:
        del p["export"]
    path = write_result("mlp_precision_quick" if args.quick else "mlp_precision",
                        {"parity": parity, "precision_cost": cost}, args.results_dir)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
