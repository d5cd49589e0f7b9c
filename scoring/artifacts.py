"""Find the exported model and read its metadata without importing TensorFlow."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scoring.errors import ModelError

#: Where the README's main job (``python -m export``) writes the artifacts.
DEFAULT_EXPORT_DIR = Path("artifacts/export")
ONNX_FILE = "model.onnx"
SAVED_MODEL_DIR = "saved_model"
SIDECAR = Path("assets") / "wdbc_metadata.json"
MAKE_HINT = "Run `python -m model.train && python -m export` to make it, or pass --model PATH."


@dataclass(frozen=True)
class ModelRef:
    """A resolved model: which runtime loads it and from where."""

    runtime: str
    path: Path


def resolve_model(model: str | Path | None, runtime: str | None) -> ModelRef:
    """Map ``--model`` (ONNX file, SavedModel dir or export dir; default the main job's) to a runtime and path.

    The runtime follows from the path unless ``runtime`` says otherwise.
    """
    path = Path(model) if model is not None else DEFAULT_EXPORT_DIR
    if not path.exists():
        what = "default model" if model is None else "model"
        raise ModelError(f"No {what} at {path}. {MAKE_HINT}")
    if path.is_file():
        if path.suffix != ".onnx":
            raise ModelError(f"Expected an ONNX file (*.onnx), a SavedModel directory or an export directory, got {path}.")
        return _checked(ModelRef("onnx", path), runtime, "--runtime tf needs a SavedModel directory")
    if (path / "saved_model.pb").is_file():
        return _checked(ModelRef("tf", path), runtime, "--runtime onnx needs an ONNX file")
    candidates = {"onnx": path / ONNX_FILE, "tf": path / SAVED_MODEL_DIR}
    chosen = runtime or "onnx"
    if chosen in candidates and candidates[chosen].exists():
        return ModelRef(chosen, candidates[chosen])
    raise ModelError(f"No {'ONNX file' if chosen == 'onnx' else 'SavedModel'} in {path} "
                     f"(looked for {candidates.get(chosen, path)}). {MAKE_HINT}")


def _checked(ref: ModelRef, runtime: str | None, hint: str) -> ModelRef:
    if runtime is not None and runtime != ref.runtime:
        raise ModelError(f"{hint}, got {ref.path}. Pass an export directory to use either runtime.")
    return ref


def read_sidecar(saved_model: Path) -> dict[str, Any]:
    """The SavedModel's metadata sidecar, as plain JSON."""
    path = saved_model / SIDECAR
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelError(f"The SavedModel at {saved_model} has no metadata ({SIDECAR} is missing). {MAKE_HINT}") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"Could not read the SavedModel metadata {path}: {exc}") from None


def decode_onnx_metadata(props: dict[str, str], path: Path) -> dict[str, Any]:
    """ONNX metadata_props are strings; JSON-encoded values are decoded."""
    out: dict[str, Any] = {}
    for key, value in props.items():
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    if "feature_names" not in out:
        raise ModelError(f"The ONNX model {path} has no 'feature_names' metadata; was it made by `python -m export`?")
    return out


def check_metadata(meta: dict[str, Any], n_inputs: int | None, path: Path) -> tuple[list[str], float]:
    """Feature names and threshold from the metadata, checked against the graph's input width."""
    names = meta.get("feature_names")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ModelError(f"Expected 'feature_names' to be a list of column names in {path}'s metadata, got {names!r}.")
    if n_inputs is not None and n_inputs != len(names):
        raise ModelError(f"The model at {path} takes {n_inputs} features, but its metadata names {len(names)}; "
                         "the artifact is inconsistent. Re-export it.")
    try:
        threshold = float(meta["threshold"])
    except (KeyError, TypeError, ValueError):
        raise ModelError(f"Expected a numeric 'threshold' in {path}'s metadata, got {meta.get('threshold')!r}.") from None
    return names, threshold
