"""The Runtime protocol, its TensorFlow and onnxruntime implementations, and the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from scoring.artifacts import ModelRef, check_metadata, decode_onnx_metadata, read_sidecar
from scoring.errors import ModelError

INPUT_NAME = "features"
OUTPUTS = ("probability", "label")


class Runtime(Protocol):
    """A loaded model: its feature names and threshold, and one call per batch."""

    name: str
    path: Path
    feature_names: list[str]
    threshold: float

    def predict(self, features: np.ndarray) -> dict[str, np.ndarray]:
        """``features``: C-contiguous float32 [N, n_features] in model order -> probability, label."""
        ...


class OnnxRuntime:
    """onnxruntime; never imports TensorFlow. Sequential, single-threaded by default (fastest here)."""

    name = "onnx"

    def __init__(self, path: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/... types
            raise ModelError(f"Could not load the ONNX model {path}: {str(exc).strip().splitlines()[0]}") from None
        self.path = path
        inputs = self._session.get_inputs()
        if [i.name for i in inputs] != [INPUT_NAME]:
            raise ModelError(f"Expected one input {INPUT_NAME!r} in {path}, got {[i.name for i in inputs]}.")
        width = inputs[0].shape[1] if len(inputs[0].shape) == 2 and isinstance(inputs[0].shape[1], int) else None
        meta = decode_onnx_metadata(self._session.get_modelmeta().custom_metadata_map, path)
        self.feature_names, self.threshold = check_metadata(meta, width, path)

    def predict(self, features: np.ndarray) -> dict[str, np.ndarray]:
        probability, label = self._session.run(list(OUTPUTS), {INPUT_NAME: features})
        return {"probability": probability, "label": label}


class TensorFlowRuntime:
    """The SavedModel's ``serving_default`` signature; TensorFlow is imported only here."""

    name = "tf"

    def __init__(self, path: Path, threads: int = 1) -> None:
        meta = read_sidecar(path)  # before importing TF: a bad artifact fails fast
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass  # already initialized in this process (e.g. tests): keep its setting
        try:
            self._signature = tf.saved_model.load(str(path)).signatures["serving_default"]
        except (OSError, KeyError, ValueError, tf.errors.OpError) as exc:
            raise ModelError(f"Could not load the SavedModel {path}: {str(exc).strip().splitlines()[0]}") from None
        spec = self._signature.structured_input_signature[1].get(INPUT_NAME)
        if spec is None:
            raise ModelError(f"Expected a {INPUT_NAME!r} input in {path}'s serving_default signature.")
        self._tf = tf
        self.path = path
        self.feature_names, self.threshold = check_metadata(meta, spec.shape[-1], path)

    def predict(self, features: np.ndarray) -> dict[str, np.ndarray]:
        out = self._signature(**{INPUT_NAME: self._tf.constant(features)})
        return {name: out[name].numpy() for name in OUTPUTS}


#: Runtimes by CLI name.
RUNTIMES: dict[str, type] = {"onnx": OnnxRuntime, "tf": TensorFlowRuntime}


def load_runtime(ref: ModelRef, threads: int = 1) -> Runtime:
    """Instantiate the runtime ``ref.runtime`` for ``ref.path``; an unknown name lists the valid ones."""
    try:
        cls = RUNTIMES[ref.runtime]
    except KeyError:
        raise ModelError(f"Unknown runtime {ref.runtime!r}; expected one of {sorted(RUNTIMES)}.") from None
    return cls(ref.path, threads=threads)
