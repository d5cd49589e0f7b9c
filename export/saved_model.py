"""export_saved_model(...): the serving function as ``serving_default``, metadata in an assets sidecar."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import tensorflow as tf

from export.signature import SIGNATURE_KEY, ServingModule
from model.checkpoint import as_os_error
from scoring.artifacts import SIDECAR


def export_saved_model(module: ServingModule, path: Path) -> Path:
    """Save ``module`` with its one concrete serving function as the default signature."""
    try:
        tf.saved_model.save(module, str(path), signatures={SIGNATURE_KEY: module.concrete_function()})
    except tf.errors.OpError as exc:  # e.g. ResourceExhaustedError on a full disk: TF's, not an OSError
        raise as_os_error(exc) from None
    return path


def write_sidecar(path: Path, metadata: dict[str, Any]) -> Path:
    """Write the metadata JSON into the SavedModel's assets/ (plain JSON, readable without TF)."""
    sidecar = path / SIDECAR
    sidecar.parent.mkdir(exist_ok=True)
    sidecar.write_text(json.dumps(metadata, indent=2) + "\n")
    return sidecar
