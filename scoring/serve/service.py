"""The served model: the verified runtime, its column decoder, the batcher, readiness and the request limits."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from starlette.requests import Request

from contract.metadata import OUTPUT_NAMES
from scoring.runtimes import Runtime
from scoring.serve.batcher import Batcher, Outputs
from scoring.serve.body import read_body
from scoring.serve.decode import TableDecoder
from scoring.serve.errors import RequestError
from scoring.serve.metrics import Metrics
from scoring.serve.options import ServeOptions

#: The model's only version, as the Open Inference Protocol lists it.
VERSION = "1"
#: What each runtime is called in the protocol's model metadata (Triton's platform names).
PLATFORMS = {"onnx": "onnxruntime_onnx", "tf": "tensorflow_savedmodel"}


@dataclass
class Service:
    """Everything a route needs; ``ready`` is true from start-up until a drain begins."""

    runtime: Runtime
    options: ServeOptions
    metrics: Metrics = field(default_factory=Metrics)
    api_key: bytes | None = None
    ready: bool = False

    def __post_init__(self) -> None:
        self.decoder = TableDecoder(self.runtime.info, self.options.rename)
        self.batcher = Batcher(self._predict, self.options.max_batch_rows, self.options.max_delay_ms / 1000,
                               self.metrics.observe_batch)

    @property
    def feature_names(self) -> list[str]:
        return self.runtime.info.feature_names

    def _predict(self, x: np.ndarray) -> Outputs:
        return self.runtime.predict(x, OUTPUT_NAMES)

    async def predict(self, x: np.ndarray) -> Outputs:
        """Every output for ``x``, through the batcher (an empty request never reaches the runtime)."""
        if not len(x):
            return {"probability": np.empty(0, np.float32), "logit": np.empty(0, np.float32),
                    "label": np.empty(0, np.int64)}
        return await self.batcher.predict(x)

    async def body(self, request: Request) -> bytes:
        return await read_body(request, self.options.max_request_bytes, self.options.request_timeout)

    def check_model(self, request: Request) -> None:
        """404 for a model name (or version) this server does not serve."""
        name = request.path_params.get("name")
        if name != self.options.name:
            raise RequestError(404, f"unknown model {name!r}; this server serves {self.options.name!r}.")
        version = request.path_params.get("version", VERSION)
        if version != VERSION:
            raise RequestError(404, f"unknown version {version!r} of model {name!r}; it has version {VERSION!r}.")

    def model_metadata(self) -> dict[str, object]:
        """The protocol's model metadata: the input (FP32 [-1, n]) and the outputs."""
        return {
            "name": self.options.name,
            "versions": [VERSION],
            "platform": PLATFORMS.get(self.runtime.name, self.runtime.name),
            "inputs": [{"name": self.runtime.info.input_name, "datatype": "FP32",
                        "shape": [-1, len(self.feature_names)]}],
            "outputs": [{"name": "probability", "datatype": "FP32", "shape": [-1]},
                        {"name": "logit", "datatype": "FP32", "shape": [-1]},
                        {"name": "label", "datatype": "INT64", "shape": [-1]}],
        }
