"""The export's layout on disk, without TensorFlow: file names, resolving --model, fingerprints, the sidecar."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.errors import ModelError

#: Where the README's main job (``python -m export``) writes the artifacts.
DEFAULT_EXPORT_DIR = Path("artifacts/export")
ONNX_FILE = "model.onnx"
SAVED_MODEL_DIR = "saved_model"
#: The SavedModel's metadata, plain JSON inside its assets/ (readable without TensorFlow).
SIDECAR = Path("assets") / "metadata.json"
PARITY_REPORT = "parity.json"
#: Every file of a training run or an export, with its SHA-256: what the loader checks, and what tells a folder
#: that ``--out`` may replace (a run of ours) from one it must not (anything else).
MANIFEST = "manifest.json"
EXPORT_MANIFEST_FORMAT = "logreg-export-manifest/1"
SIGNATURE_KEY = "serving_default"
#: The file that makes a directory a SavedModel.
SAVED_MODEL_PB = "saved_model.pb"
#: The ONNX opset the export pins (tf2onnx 1.17 supports up to 18; onnxruntime >= 1.14 runs it) and records.
DEFAULT_OPSET = 17
#: The name of the dynamic first dimension of every input and output in the ONNX graph.
BATCH_DIM = "batch"
MAKE_HINT = "Run `python -m model.train && python -m export` to make it, or pass --model PATH."


@dataclass(frozen=True)
class ModelRef:
    """A resolved model: which runtime loads it, from where, and the export directory it sits in (if any)."""

    runtime: str
    path: Path
    export_dir: Path | None = None


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
        return _checked(ModelRef("onnx", path, _export_of(path)), runtime, "--runtime tf needs a SavedModel directory")
    if (path / SAVED_MODEL_PB).is_file():
        return _checked(ModelRef("tf", path, _export_of(path)), runtime, "--runtime onnx needs an ONNX file")
    if (path / "variables").is_dir():
        raise ModelError(f"{path} looks like a SavedModel directory, but its saved_model.pb is missing. {MAKE_HINT}")
    candidates = {"onnx": path / ONNX_FILE, "tf": path / SAVED_MODEL_DIR}
    chosen = runtime or "onnx"
    if chosen in candidates and candidates[chosen].exists():
        return ModelRef(chosen, candidates[chosen], path)
    raise ModelError(f"No {'ONNX file' if chosen == 'onnx' else 'SavedModel'} in {path} "
                     f"(looked for {candidates.get(chosen, path)}). {MAKE_HINT}")


def export_artifacts(path: Path) -> tuple[Path | None, Path | None]:
    """The ONNX file and the SavedModel that ``path`` holds (an export directory: either may be missing) or is
    (resolved as ``--model`` is, with its errors)."""
    if path.is_dir() and not (path / SAVED_MODEL_PB).is_file():
        onnx_path, saved_model = path / ONNX_FILE, path / SAVED_MODEL_DIR
        if onnx_path.is_file() or saved_model.is_dir():
            return (onnx_path if onnx_path.is_file() else None), (saved_model if saved_model.is_dir() else None)
    ref = resolve_model(path, None)
    return (ref.path, None) if ref.runtime == "onnx" else (None, ref.path)


def _export_of(path: Path) -> Path | None:
    """The export folder that ``path`` (its model.onnx or saved_model/) still sits in, by the folder's manifest: then
    the whole export is checked on load, not only the one artifact."""
    if path.name not in (ONNX_FILE, SAVED_MODEL_DIR):
        return None
    try:
        fmt, _ = read_manifest(path.parent)
    except (OSError, ValueError):
        return None
    return path.parent if fmt == EXPORT_MANIFEST_FORMAT else None


def _checked(ref: ModelRef, runtime: str | None, hint: str) -> ModelRef:
    if runtime is not None and runtime != ref.runtime:
        raise ModelError(f"{hint}, got {ref.path}. Pass an export directory to use either runtime.")
    return ref


# ----------------------------------------------------------------------------------------------
# Fingerprints


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_saved_model(directory: Path) -> str:
    """SHA-256 over the SavedModel's files (relative path and content), excluding its own sidecar.

    The sidecar holds the ONNX file's hash, and the ONNX file holds this one, so the sidecar cannot
    be part of it.
    """
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        relative = path.relative_to(directory)
        if relative == SIDECAR:
            continue
        digest.update(str(relative).encode() + b"\0" + sha256_file(path).encode())
    return digest.hexdigest()


def read_sidecar(saved_model: Path) -> dict[str, Any]:
    """The SavedModel's metadata sidecar, as plain JSON."""
    path = saved_model / SIDECAR
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelError(f"The SavedModel at {saved_model} has no metadata ({SIDECAR} is missing); was it made by "
                         f"`python -m export`? {MAKE_HINT}") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"Could not read the SavedModel metadata {path}: {exc}") from None
    if not isinstance(meta, dict):
        raise ModelError(f"Expected the SavedModel metadata {path} to be a JSON object, got {type(meta).__name__}; "
                         "the artifact is damaged. Re-export it.")
    return meta


# ----------------------------------------------------------------------------------------------
# Manifests


def write_manifest(directory: Path, fmt: str) -> Path:
    """Record the SHA-256 of every file under ``directory`` (relative POSIX paths) as its manifest of ``fmt``."""
    files = {p.relative_to(directory).as_posix(): sha256_file(p)
             for p in sorted(directory.rglob("*")) if p.is_file() and p.relative_to(directory) != Path(MANIFEST)}
    path = directory / MANIFEST
    path.write_text(json.dumps({"format": fmt, "files": files}, indent=2) + "\n")
    return path


def read_manifest(directory: Path) -> tuple[object, dict[str, str]]:
    """``(format, files)`` of ``directory``'s manifest; FileNotFoundError if it has none, ValueError if it is not
    a JSON object whose ``files`` maps relative paths to SHA-256 digests."""
    manifest = json.loads((directory / MANIFEST).read_text())
    if not isinstance(manifest, Mapping) or not isinstance(manifest.get("files"), Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in manifest["files"].items()):
        raise ValueError("expected a JSON object whose 'files' maps each file to its SHA-256")
    return manifest.get("format"), dict(manifest["files"])


def changed_files(directory: Path, listed: Mapping[str, str]) -> list[str]:
    """The listed files that are missing or whose SHA-256 differs (relative paths, in listed order)."""
    changed = []
    for name, digest in listed.items():
        path = directory / name
        if not _inside(directory, path) or not path.is_file() or sha256_file(path) != digest:
            changed.append(name)
    return changed


def unlisted_files(directory: Path, listed: Mapping[str, str], limit: int = 6) -> list[str]:
    """Up to ``limit`` entries under ``directory`` that its manifest does not list (the manifest itself aside);
    a symbolic link or anything else that is not a plain file or a folder counts, and is not followed."""
    found: list[str] = []
    for root, dirs, files in os.walk(directory):
        here = Path(root)
        for name in sorted(files) + sorted(d for d in dirs if (here / d).is_symlink()):
            relative = (here / name).relative_to(directory).as_posix()
            if relative not in listed and relative != MANIFEST:
                found.append(relative)
                if len(found) >= limit:
                    return found
    return found


def _inside(directory: Path, path: Path) -> bool:
    """A listed name such as ``../x`` or ``/etc/x`` must not take a check outside the folder."""
    return os.path.realpath(path).startswith(os.path.realpath(directory) + os.sep)
