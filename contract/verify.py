"""Verify on load: the two artifacts of an export are siblings, and each graph applies its metadata's threshold."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from contract.artifacts import ONNX_FILE, SAVED_MODEL_DIR, ModelRef, read_sidecar, sha256_saved_model
from contract.errors import ModelError, first_line
from contract.metadata import (
    OUTPUT_NAMES,
    Hashes,
    Metadata,
    decode_onnx_props,
    shared_differences,
    sibling_hashes,
)
from contract.onnxproto import load_model, scalar

#: Two thresholds are the same if they are the same float32 (the graph stores a float32).
_THRESHOLD_TOLERANCE = 1e-7
#: TensorProto.DataLocation.EXTERNAL: the tensor's bytes are in another file, next to the model.
_EXTERNAL = 1


@dataclass(frozen=True)
class OnnxFile:
    """An ONNX file read once: its bytes feed the hash, the one protobuf parse and the runtime's session."""

    path: Path
    data: bytes
    proto: Any

    @classmethod
    def read(cls, path: Path, verb: str = "read") -> OnnxFile:
        """Read and parse ``path`` (no runtime needed; contract.onnxproto says why not ``onnx.load_model``).
        ``verb`` names the step in the error: "load" where the file is being loaded to score."""
        try:
            data = path.read_bytes()
            return cls(path, data, load_model(data))
        except Exception as exc:  # protobuf's DecodeError, OSError, ...
            raise ModelError(f"Could not {verb} the ONNX model {path}: {first_line(exc)}") from None

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @cached_property
    def raw_metadata(self) -> dict[str, Any]:
        return decode_onnx_props({p.key: p.value for p in self.proto.metadata_props})

    @property
    def external_data(self) -> bool:
        """Whether weights live in files beside the model (a session must then be made from the path)."""
        return any(t.data_location == _EXTERNAL for t in self.proto.graph.initializer)

    def width(self) -> int | None:
        """The input's fixed feature count, if the graph has one input of rank 2 with a known width."""
        inputs = self.proto.graph.input
        dims = inputs[0].type.tensor_type.shape.dim if len(inputs) == 1 else []
        return dims[1].dim_value if len(dims) == 2 and dims[1].dim_value else None

    def metadata(self, verify: bool = True) -> Metadata:
        """The checked metadata, and (``verify``) the proof that the graph applies its threshold."""
        meta = Metadata.from_dict(self.raw_metadata, self.width(), self.path)
        if verify:
            check_threshold(onnx_threshold(self.proto), meta.threshold, self.path)
        return meta


def read_onnx(path: Path) -> Any:
    """The ONNX model's protobuf."""
    return OnnxFile.read(path).proto


def verify_export_dir(directory: Path, onnx: OnnxFile | None = None) -> Hashes:
    """Both artifacts of ``directory`` name each other's SHA-256 and agree on their metadata; returns the hashes.

    ``onnx``: the export's ONNX file, if the caller has read it already. An export directory with only one of
    the two artifacts has nothing to compare, and passes.
    """
    onnx_path, saved_model = directory / ONNX_FILE, directory / SAVED_MODEL_DIR
    if not (onnx_path.is_file() and saved_model.is_dir()):
        return Hashes()
    if onnx is None or onnx.path != onnx_path:
        onnx = OnnxFile.read(onnx_path)
    onnx_meta, sidecar = onnx.raw_metadata, read_sidecar(saved_model)
    hashes = Hashes(onnx_sha256=onnx.sha256, saved_model_sha256=sha256_saved_model(saved_model))
    named = sibling_hashes(onnx_meta, sidecar)
    problems = []
    if named.onnx_sha256 != hashes.onnx_sha256:
        problems.append(f"{saved_model}'s metadata names an ONNX file with SHA-256 {_short(named.onnx_sha256)}, "
                        f"but {onnx_path} has {_short(hashes.onnx_sha256)}")
    if named.saved_model_sha256 != hashes.saved_model_sha256:
        problems.append(f"{onnx_path}'s metadata names a SavedModel with SHA-256 {_short(named.saved_model_sha256)}, "
                        f"but {saved_model} has {_short(hashes.saved_model_sha256)}")
    differ = shared_differences(onnx_meta, sidecar)
    if differ:
        problems.append(f"their metadata differ in {', '.join(differ)}")
    if problems:
        raise ModelError(f"{onnx_path} and {saved_model} are not from the same export: {'; '.join(problems)}. "
                         "Re-export both with `python -m export`, or pass the one you trust as --model.")
    return hashes


def read_metadata(ref: ModelRef, verify: bool = True, onnx: OnnxFile | None = None) -> Metadata:
    """The checked metadata of ``ref`` without loading a runtime (no TensorFlow): what a client that only plans
    needs. The SavedModel's own threshold variable is checked where TensorFlow loads it."""
    if ref.runtime == "onnx" and onnx is None:
        onnx = OnnxFile.read(ref.path)
    if verify and ref.export_dir is not None:
        verify_export_dir(ref.export_dir, onnx)
    if ref.runtime == "tf":
        return Metadata.from_dict(read_sidecar(ref.path), None, ref.path)
    assert onnx is not None
    return onnx.metadata(verify)


def onnx_threshold(model: Any) -> float | None:
    """The threshold the graph applies: the constant that ``probability`` is compared with (None if not found)."""
    constants = {init.name: init for init in model.graph.initializer}
    constants.update({node.output[0]: attr.t for node in model.graph.node if node.op_type == "Constant"
                      for attr in node.attribute if attr.name == "value"})
    for node in model.graph.node:
        if node.op_type == "Greater" and node.input[0] == OUTPUT_NAMES[0] and node.input[1] in constants:
            return scalar(constants[node.input[1]])
    return None


def check_threshold(graph: float | None, metadata: float, path: Path) -> None:
    """The graph's own threshold must be the metadata's: the README promises ``label`` applies it."""
    if graph is None:
        raise ModelError(f"Could not find the threshold in {path}'s graph (a Greater node on 'probability'); "
                         "was it made by `python -m export`? Pass --no-verify to score anyway.")
    if abs(graph - metadata) > _THRESHOLD_TOLERANCE:
        raise ModelError(f"{path}: the graph labels rows with probability > {graph:.9g}, but its metadata says the "
                         f"threshold is {metadata:.9g}; the artifact is inconsistent. Re-export it.")


def check_saved_model_threshold(loaded: Any, metadata: float, path: Path) -> None:
    """The SavedModel's own threshold variable (``serving.classifier.threshold``) must be the metadata's."""
    variable = getattr(getattr(loaded, "classifier", None), "threshold", None)
    check_threshold(None if variable is None else float(variable.numpy()), metadata, path)


def _short(digest: object) -> str:
    return f"{digest[:12]}..." if isinstance(digest, str) else repr(digest)
