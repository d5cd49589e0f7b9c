"""Metadata that travels with each artifact, and artifact fingerprints (SHA-256)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from export.signature import INPUT_NAME, OUTPUT_NAMES
from model.files import package_versions

FORMAT = "wdbc-logreg-export/1"
#: Sidecar of the SavedModel, inside its assets/ directory.
SIDECAR = Path("assets") / "wdbc_metadata.json"
VERSIONED = ("tensorflow", "tf2onnx", "onnx", "onnxruntime", "numpy", "protobuf")


def base_metadata(info: dict[str, Any], opset: int) -> dict[str, Any]:
    """What both artifacts carry: from the trained model's model.json plus export facts."""
    return {
        "format": FORMAT,
        "feature_names": list(info["feature_names"]),
        "n_features": len(info["feature_names"]),
        "input_name": INPUT_NAME,
        "output_names": list(OUTPUT_NAMES),
        "threshold": float(info["threshold"]),
        "label_meaning": info["label_meaning"],
        "positive_label": 1,
        "metrics": info["metrics"],
        "data_fingerprint_sha256": info["data_fingerprint_sha256"],
        "training_config": info.get("config"),
        "opset": opset,
        "versions": package_versions(*VERSIONED),
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def as_onnx_props(metadata: dict[str, Any]) -> dict[str, str]:
    """ONNX metadata_props are strings: scalars as text, everything else as JSON."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()}


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
