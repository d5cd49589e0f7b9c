"""What ``--out`` of the export may replace: an empty folder, or an earlier export (by its manifest, or by its
files if it was written before exports had one). Imports no TensorFlow, so the CLI checks ``--out`` first."""

from __future__ import annotations

import json
import os
from pathlib import Path

from contract.artifacts import EXPORT_MANIFEST_FORMAT, ONNX_FILE, PARITY_REPORT, SAVED_MODEL_DIR, SIDECAR
from contract.metadata import EARLIER_FORMATS, format_of
from model.files import RunKind


def legacy_export(path: Path) -> bool:
    """An export written before exports had a manifest: exactly our three entries, and a SavedModel sidecar of an
    older export format."""
    if sorted(os.listdir(path)) != sorted((ONNX_FILE, PARITY_REPORT, SAVED_MODEL_DIR)):
        return False
    try:
        meta = json.loads((path / SAVED_MODEL_DIR / SIDECAR).read_text())
    except (OSError, ValueError):
        return False
    return format_of(meta) in EARLIER_FORMATS


EXPORT = RunKind("export", EXPORT_MANIFEST_FORMAT, legacy_export)
