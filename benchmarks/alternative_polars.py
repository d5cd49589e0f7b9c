"""What a user would write instead of ``scoring.batch`` with polars: read the whole CSV, one onnxruntime call, write.

``python benchmarks/alternative_polars.py IN OUT MODEL.onnx`` follows the README's "Calling the ONNX model from
another service" snippet and imports nothing of this project, so ``benchmarks.alternatives`` times it as the
whole process a user would run.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import onnxruntime as ort
import polars as pl


def run(source: str, output: str, model: str) -> None:
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    features = json.loads(meta["feature_names"])
    frame = pl.read_csv(source)
    x = frame.select(features).to_numpy().astype(np.float32)
    probability, label = session.run(["probability", "label"], {meta["input_name"]: x})
    frame.select("id").with_columns(probability=probability, label=label).write_csv(output)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print("usage: python benchmarks/alternative_polars.py IN OUT MODEL.onnx", file=sys.stderr)
        return 2
    run(*args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
