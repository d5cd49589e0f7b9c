"""One scoring variant in its own process: set-up untimed, then the timed run; prints JSON on stdout.

``python -m benchmarks.scoring_worker VARIANT IN OUT --model EXPORT_DIR``
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.common import benchmark_parser
from model.wdbc import FEATURE_NAMES

FEATURES = list(FEATURE_NAMES)
CHUNK_ROWS = 65_536


def ours(runtime_name: str, model: Path, engine: str = "auto") -> Callable[[Path, Path], dict]:
    from contract.artifacts import resolve_model
    from scoring.batch import score_csv
    from scoring.runtimes import load_runtime

    runtime = load_runtime(resolve_model(model, runtime_name))

    def run(src: Path, out: Path) -> dict:
        summary = score_csv(src, out, runtime=runtime, engine=engine)
        return {"rows": summary.rows, "stages": summary.stages}

    return run


def ceiling_polars(model: Path) -> Callable[[Path, Path], dict]:
    """polars' streaming engine: parse every feature to float32, compute one column from all, write."""
    from benchmarks.ceiling import run as ceiling

    def run(src: Path, out: Path) -> dict:
        ceiling(str(src), str(out))
        return {"rows": None}

    return run


def ceiling_polars_parquet(model: Path) -> Callable[[Path, Path], dict]:
    """polars' streaming engine from Parquet to Parquet: every feature read as float32, one column computed from
    all, id, probability and label written."""
    import polars as pl

    def run(src: Path, out: Path) -> dict:
        pl.scan_parquet(src).select(pl.col("id"), pl.sum_horizontal(pl.col(FEATURES).cast(pl.Float32))
                                    .alias("probability"), pl.lit(0, dtype=pl.Int64).alias("label")).sink_parquet(out)
        return {"rows": None}

    return run


def ceiling_pyarrow(model: Path) -> Callable[[Path, Path], dict]:
    """pyarrow's streaming reader with explicit float32 column types, and its CSV writer."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv

    def run(src: Path, out: Path) -> dict:
        types = {f: pa.float32() for f in FEATURES}
        reader = csv.open_csv(src, convert_options=csv.ConvertOptions(column_types=types, include_columns=["id", *FEATURES]))
        rows, writer = 0, None
        for batch in reader:
            total = batch.column(FEATURES[0])
            for f in FEATURES[1:]:
                total = pc.add(total, batch.column(f))
            table = pa.table({"id": batch.column("id"), "probability": total,
                              "label": pa.array(np.zeros(batch.num_rows, np.int64))})
            if writer is None:
                writer = csv.CSVWriter(str(out), table.schema)
            writer.write_table(table)
            rows += batch.num_rows
        if writer is not None:
            writer.close()
        return {"rows": rows}

    return run


def naive(model: Path) -> Callable[[Path, Path], dict]:
    """pandas read_csv chunks + the tutorial's eager TF model (trained weights) + to_csv."""
    import json as _json

    import pandas as pd
    import tensorflow as tf

    from benchmarks.tutorial import TutorialLogisticRegression
    from contract.artifacts import SIDECAR

    saved = tf.saved_model.load(str(model / "saved_model"))
    variables = {v.name.split(":")[0]: v.numpy() for v in saved.signatures["serving_default"].variables}
    meta = _json.loads((model / "saved_model" / SIDECAR).read_text())
    mean, std = tf.constant(variables["mean"]), tf.constant(variables["std"])
    log_reg = TutorialLogisticRegression()
    log_reg(tf.zeros([1, len(FEATURES)]))
    log_reg.w.assign(variables["w"])
    log_reg.b.assign(variables["b"])
    threshold = meta["threshold"]

    def run(src: Path, out: Path) -> dict:
        rows = 0
        for i, chunk in enumerate(pd.read_csv(src, chunksize=CHUNK_ROWS)):
            x = (chunk[FEATURES].to_numpy(np.float32) - mean) / std  # the tutorial's Normalize.norm
            probability = log_reg(x, train=False).numpy()
            frame = pd.DataFrame({"id": chunk["id"], "probability": probability,
                                  "label": (probability > threshold).astype(np.int64)})
            frame.to_csv(out, mode="w" if i == 0 else "a", header=i == 0, index=False)
            rows += len(frame)
        return {"rows": rows}

    return run


VARIANTS: dict[str, Callable[[Path], Callable[[Path, Path], dict]]] = {
    "ours-onnx": lambda model: ours("onnx", model),
    "ours-tf": lambda model: ours("tf", model),
    "ours-onnx-blocks": lambda model: ours("onnx", model, "blocks"),
    "ceiling-polars": ceiling_polars,
    "ceiling-pyarrow": ceiling_pyarrow,
    "naive-pandas-eager-tf": naive,
    # Parquet in and out (by the file names: the runner names these outputs .parquet)
    "parquet-ours-onnx": lambda model: ours("onnx", model),
    "parquet-ours-tf": lambda model: ours("tf", model),
    "csv-to-parquet-ours-onnx": lambda model: ours("onnx", model),
    "parquet-ceiling-polars": ceiling_polars_parquet,
}


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser("python -m benchmarks.scoring_worker", "One timed scoring variant, for benchmarks.scoring.")
    parser.add_argument("variant", choices=sorted(VARIANTS), help="what to run")
    parser.add_argument("input", type=Path, help="input CSV or Parquet")
    parser.add_argument("output", type=Path, help="output CSV or Parquet")
    parser.add_argument("--model", type=Path, required=True, help="export directory")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    run = VARIANTS[args.variant](args.model)  # set-up: imports, model load (not in "seconds")
    setup = time.perf_counter() - start
    start = time.perf_counter()
    result = run(args.input, args.output)
    result["seconds"] = time.perf_counter() - start
    result["setup_seconds"] = setup
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
