"""The Runtime protocol, its TensorFlow and onnxruntime implementations, and the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from scoring.artifacts import (
    INPUT_NAME, ModelInfo, ModelRef, decode_onnx_metadata, model_info, read_sidecar,
)
from scoring.errors import ModelError, first_line
from scoring.tfquiet import import_tensorflow
from scoring.verify import check_threshold, onnx_metadata, onnx_threshold, read_onnx, verify_export_dir

#: What the scorer asks for by default (``logit`` is there too, by name).
OUTPUTS = ("probability", "label")


class Runtime(Protocol):
    """A loaded model: its checked metadata, and one call per batch."""

    name: str
    path: Path
    info: ModelInfo

    @property
    def feature_names(self) -> list[str]: ...

    @property
    def threshold(self) -> float: ...

    def predict(self, features: np.ndarray, names: tuple[str, ...] = OUTPUTS) -> dict[str, np.ndarray]:
        """``features``: C-contiguous float32 [N, n_features] in model order -> the named outputs."""
        ...


class _Loaded:
    """What both runtimes share: the metadata, read once and checked."""

    info: ModelInfo

    @property
    def feature_names(self) -> list[str]:
        return self.info.feature_names

    @property
    def threshold(self) -> float:
        return self.info.threshold


class OnnxRuntime(_Loaded):
    """onnxruntime; never imports TensorFlow. Sequential, single-threaded by default (fastest here)."""

    name = "onnx"

    def __init__(self, path: Path, threads: int = 1, verify: bool = True) -> None:
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
        self.info = model_info(decode_onnx_metadata(self._session.get_modelmeta().custom_metadata_map), width, path)
        if verify:
            check_threshold(onnx_threshold(read_onnx(path)), self.info.threshold, path)

    def predict(self, features: np.ndarray, names: tuple[str, ...] = OUTPUTS) -> dict[str, np.ndarray]:
        return dict(zip(names, self._session.run(list(names), {INPUT_NAME: features})))


class TensorFlowRuntime(_Loaded):
    """The SavedModel's ``serving_default`` signature; TensorFlow is imported only here."""

    name = "tf"

    def __init__(self, path: Path, threads: int = 1, verify: bool = True) -> None:
        meta = read_sidecar(path)  # before importing TF: a bad artifact fails fast
        tf = import_tensorflow(lean=True)  # without Keras and without its native start-up lines on stderr

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass  # already initialized in this process (e.g. tests): keep its setting
        try:
            loaded = tf.saved_model.load(str(path))
            self._signature = loaded.signatures["serving_default"]
        except Exception as exc:  # noqa: BLE001 - TF raises many types (OpError, ValueError, IndexError, ...)
            raise ModelError(f"Could not load the SavedModel {path}: {first_line(exc)}") from None
        spec = self._signature.structured_input_signature[1].get(INPUT_NAME)
        if spec is None:
            raise ModelError(f"Expected a {INPUT_NAME!r} input in {path}'s serving_default signature.")
        self._tf = tf
        self.path = path
        self.info = model_info(meta, spec.shape[-1], path)
        if verify:
            variable = getattr(getattr(loaded, "classifier", None), "threshold", None)
            check_threshold(None if variable is None else float(variable.numpy()), self.info.threshold, path)

    def predict(self, features: np.ndarray, names: tuple[str, ...] = OUTPUTS) -> dict[str, np.ndarray]:
        out = self._signature(**{INPUT_NAME: self._tf.constant(features)})
        return {name: out[name].numpy() for name in names}



#: Runtimes by CLI name.
RUNTIMES: dict[str, type] = {"onnx": OnnxRuntime, "tf": TensorFlowRuntime}


def read_model_info(ref: ModelRef, verify: bool = True) -> ModelInfo:
    """The checked metadata of ``ref`` without loading a runtime (no TensorFlow): what a client that only plans
    needs. The SavedModel's own threshold variable is checked where TensorFlow loads it."""
    if verify and ref.export_dir is not None:
        verify_export_dir(ref.export_dir)
    if ref.runtime == "tf":
        return model_info(read_sidecar(ref.path), None, ref.path)
    proto = read_onnx(ref.path)
    dims = proto.graph.input[0].type.tensor_type.shape.dim if len(proto.graph.input) == 1 else []
    width = dims[1].dim_value if len(dims) == 2 and dims[1].dim_value else None
    info = model_info(onnx_metadata(proto), width, ref.path)
    if verify:
        check_threshold(onnx_threshold(proto), info.threshold, ref.path)
    return info


def load_runtime(ref: ModelRef, threads: int = 1, verify: bool = True) -> Runtime:
    """Instantiate the runtime ``ref.runtime`` for ``ref.path``, checking the artifact unless ``verify`` is off.

    Loading from an export directory also checks that its two artifacts are siblings. An unknown runtime name
    lists the valid ones.
    """
    try:
        cls = RUNTIMES[ref.runtime]
    except KeyError:
        raise ModelError(f"Unknown runtime {ref.runtime!r}; expected one of {sorted(RUNTIMES)}.") from None
    if verify and ref.export_dir is not None:
        verify_export_dir(ref.export_dir)
    return cls(ref.path, threads=threads, verify=verify)
