"""The Runtime protocol, its TensorFlow and onnxruntime implementations, and the registry."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import numpy as np

from contract.artifacts import SIGNATURE_KEY, ModelRef, read_sidecar
from contract.errors import ModelError, first_line
from contract.metadata import INPUT_NAME, Metadata
from contract.tfquiet import import_tensorflow
from contract.verify import (
    OnnxFile,
    Spec,
    check_labels,
    check_outputs,
    check_saved_model_threshold,
    check_signature,
    verify_export_dir,
)
from scoring.options import usable_cores

#: What the scorer asks for by default (``logit`` is there too, by name).
OUTPUTS = ("probability", "label")


class Runtime(Protocol):
    """A loaded model: its checked metadata, and one call per batch."""

    name: str
    path: Path
    info: Metadata

    @property
    def feature_names(self) -> list[str]: ...

    @property
    def threshold(self) -> float: ...

    def predict(self, features: np.ndarray, names: tuple[str, ...] = OUTPUTS) -> dict[str, np.ndarray]:
        """``features``: C-contiguous float32 [N, n_features] in model order -> the named outputs."""
        ...


class _Loaded:
    """What both runtimes share: the metadata, read once and checked."""

    info: Metadata

    @property
    def feature_names(self) -> list[str]:
        return self.info.feature_names

    @property
    def threshold(self) -> float:
        return self.info.threshold


class OnnxRuntime(_Loaded):
    """onnxruntime; never imports TensorFlow. Sequential, single-threaded by default (fastest here)."""

    name = "onnx"

    def __init__(self, path: Path, threads: int = 1, verify: bool = True, onnx: OnnxFile | None = None) -> None:
        import onnxruntime as ort

        onnx = onnx if onnx is not None and onnx.path == path else OnnxFile.read(path, "load")
        self.info = onnx.metadata(verify)  # the inputs and outputs by name, dtype and shape, always
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # From the bytes already read and hashed (the file is read once); weights kept beside the model need
        # the path, to be found.
        model = str(path) if onnx.external_data else onnx.data
        try:
            self._session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/... types
            raise ModelError(f"Could not load the ONNX model {path}: {first_line(exc)}") from None
        self.path = path

    def predict(self, features: np.ndarray, names: tuple[str, ...] = OUTPUTS) -> dict[str, np.ndarray]:
        out = dict(zip(names, self._session.run(list(names), {INPUT_NAME: features})))
        check_outputs(out, len(features), self.path)
        return out


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
            self._signature = loaded.signatures[SIGNATURE_KEY]
        except Exception as exc:  # noqa: BLE001 - TF raises many types (OpError, ValueError, IndexError, ...)
            raise ModelError(f"Could not load the SavedModel {path}: {first_line(exc)}") from None
        inputs, outputs = self._signature.structured_input_signature[1], self._signature.structured_outputs
        check_signature(_specs(inputs), _specs(outputs), path)
        self._tf = tf
        self.path = path
        self.info = Metadata.from_dict(meta, inputs[INPUT_NAME].shape[-1], path)
        if verify:
            check_saved_model_threshold(loaded, self.info.threshold, path)

    def predict(self, features: np.ndarray, names: tuple[str, ...] = OUTPUTS) -> dict[str, np.ndarray]:
        out = self._signature(**{INPUT_NAME: self._tf.constant(features)})
        values = {name: out[name].numpy() for name in names}
        check_outputs(values, len(features), self.path)
        return values


def _specs(specs: object) -> dict[str, Spec]:
    """A signature's TensorSpecs as {name: (dtype, shape)} (anything else, such as a nested structure, as not one)."""
    if not isinstance(specs, Mapping):
        return {}
    out: dict[str, Spec] = {}
    for name, spec in specs.items():
        shape = getattr(spec, "shape", None)
        dims = tuple(shape.as_list()) if shape is not None and shape.rank is not None else ()
        out[name] = (getattr(getattr(spec, "dtype", None), "name", type(spec).__name__), dims)
    return out



#: Runtimes by CLI name.
RUNTIMES: dict[str, type] = {"onnx": OnnxRuntime, "tf": TensorFlowRuntime}


def load_runtime(ref: ModelRef, threads: int = 1, verify: bool = True) -> Runtime:
    """Instantiate the runtime ``ref.runtime`` for ``ref.path``, checking the artifact unless ``verify`` is off.

    Loading from an export directory also checks that its two artifacts are siblings. An unknown runtime name
    lists the valid ones.
    """
    try:
        cls = RUNTIMES[ref.runtime]
    except KeyError:
        raise ModelError(f"Unknown runtime {ref.runtime!r}; expected one of {sorted(RUNTIMES)}.") from None
    threads = min(threads, usable_cores())  # more would only make the runtime build threads that wait
    if ref.runtime != "onnx":
        if verify and ref.export_dir is not None:
            verify_export_dir(ref.export_dir)
        runtime = cls(ref.path, threads=threads, verify=verify)
    else:
        # Read once: for the sibling check, the graph's threshold and the session.
        onnx = OnnxFile.read(ref.path, "read" if verify and ref.export_dir is not None else "load")
        if verify and ref.export_dir is not None:
            verify_export_dir(ref.export_dir, onnx)
        runtime = cls(ref.path, threads=threads, verify=verify, onnx=onnx)
    if verify:  # what runs: one value per row of each output's dtype, and the label at the metadata's threshold
        check_labels(runtime.predict, len(runtime.feature_names), runtime.threshold, ref.path)
    return runtime
