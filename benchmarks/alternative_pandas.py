"""What a user would write instead of ``scoring.batch`` with pandas: read the whole CSV, one onnxruntime call, write.

``python benchmarks/alternative_pandas.py IN OUT MODEL.onnx``: as ``alternative_polars.py``, with pandas.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import onnxruntime as ort
import pandas as pd


def run(source: str, output: str, model: str) -> None:
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    features = json.loads(meta["feature_names"])
    frame = pd.read_csv(source)
    x = frame[features].to_numpy(dtype=np.float32)
    probability, label = session.run(["probability", "label"], {meta["input_name"]: x})
    pd.DataFrame({"id": frame["id"], "probability": probability, "label": label}).to_csv(output, index=False)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print("usage: python benchmarks/alternative_pandas.py IN OUT MODEL.onnx", file=sys.stderr)
        return 2
    run(*args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
