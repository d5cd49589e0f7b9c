"""Verify on load: the two artifacts of an export are siblings, and each graph applies its metadata's threshold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scoring.artifacts import (
    ONNX_FILE, OUTPUT_NAMES, SAVED_MODEL_DIR, decode_onnx_metadata, read_sidecar, sha256_file, sha256_saved_model,
)
from scoring.errors import ModelError, first_line
from scoring.onnxproto import load_model, scalar

#: Metadata both artifacts of one export must agree on.
SHARED_KEYS = ("format", "feature_names", "threshold", "label_column", "positive_class", "negative_class",
               "data_fingerprint_sha256", "exported_at")
#: Two thresholds are the same if they are the same float32 (the graph stores a float32).
_THRESHOLD_TOLERANCE = 1e-7


def read_onnx(path: Path) -> Any:
    """The ONNX model's protobuf (no runtime needed; scoring.onnxproto says why not ``onnx.load_model``)."""
    try:
        return load_model(path.read_bytes())
    except Exception as exc:  # protobuf's DecodeError, OSError, ...
        raise ModelError(f"Could not read the ONNX model {path}: {first_line(exc)}") from None


def onnx_metadata(model: Any) -> dict[str, Any]:
    return decode_onnx_metadata({p.key: p.value for p in model.metadata_props})


def verify_export_dir(directory: Path) -> dict[str, str]:
    """Both artifacts of ``directory`` name each other's SHA-256 and agree on their metadata; returns the hashes.

    An export directory with only one of them has nothing to compare, and passes.
    """
    onnx_path, saved_model = directory / ONNX_FILE, directory / SAVED_MODEL_DIR
    if not (onnx_path.is_file() and saved_model.is_dir()):
        return {}
    onnx_meta, sidecar = onnx_metadata(read_onnx(onnx_path)), read_sidecar(saved_model)
    hashes = {"onnx_sha256": sha256_file(onnx_path), "saved_model_sha256": sha256_saved_model(saved_model)}
    problems = []
    if sidecar.get("onnx_sha256") != hashes["onnx_sha256"]:
        problems.append(f"{saved_model}'s metadata names an ONNX file with SHA-256 {_short(sidecar.get('onnx_sha256'))}, "
                        f"but {onnx_path} has {_short(hashes['onnx_sha256'])}")
    if onnx_meta.get("saved_model_sha256") != hashes["saved_model_sha256"]:
        problems.append(f"{onnx_path}'s metadata names a SavedModel with SHA-256 "
                        f"{_short(onnx_meta.get('saved_model_sha256'))}, but {saved_model} has "
                        f"{_short(hashes['saved_model_sha256'])}")
    differ = [k for k in SHARED_KEYS if onnx_meta.get(k) != sidecar.get(k)]
    if differ:
        problems.append(f"their metadata differ in {', '.join(differ)}")
    if problems:
        raise ModelError(f"{onnx_path} and {saved_model} are not from the same export: {'; '.join(problems)}. "
                         "Re-export both with `python -m export`, or pass the one you trust as --model.")
    return hashes


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


def _short(digest: object) -> str:
    return f"{digest[:12]}..." if isinstance(digest, str) else repr(digest)
