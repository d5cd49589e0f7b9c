"""The benchmark's peer: what a user would write instead of ``scoring.serve``, a plain FastAPI + onnxruntime
``/invocations`` handler (pydantic-checked ``dataframe_split``, columns put in model order, the README's session
code), served by uvicorn like ours (access log off, as ours is by default)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI
from pydantic import BaseModel

from benchmarks.common import benchmark_parser


class Split(BaseModel):
    columns: list[str]
    data: list[list[float]]


class Payload(BaseModel):
    dataframe_split: Split


def build_app(model: str) -> FastAPI:
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    feature_names = json.loads(meta["feature_names"])

    app = FastAPI()

    @app.post("/invocations")
    def invocations(payload: Payload) -> dict[str, Any]:
        split = payload.dataframe_split
        order = [split.columns.index(name) for name in feature_names]
        x = np.asarray(split.data, dtype=np.float32)[:, order]
        probability, label = session.run(["probability", "label"], {meta["input_name"]: x})
        return {"predictions": [{"probability": float(p), "label": int(b)} for p, b in zip(probability, label)]}

    return app


def build_parser() -> argparse.ArgumentParser:
    parser = benchmark_parser("python -m benchmarks.serving_peer", __doc__)
    parser.add_argument("--model", default="artifacts/export/model.onnx", help="the ONNX file")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1; 0 picks a free one, printed")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import uvicorn

    from scoring.serve.server import bind

    app = build_app(args.model)
    sock = bind("127.0.0.1", args.port)
    print(f"FastAPI peer at http://127.0.0.1:{sock.getsockname()[1]}", file=sys.stderr, flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
