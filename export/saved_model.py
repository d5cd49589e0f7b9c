"""export_saved_model(...): the serving function as ``serving_default``, metadata in an assets sidecar."""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from contract.artifacts import SIDECAR
from contract.metadata import Metadata
from export.signature import SIGNATURE_KEY, ServingModule
from model.checkpoint import as_os_error


def export_saved_model(module: ServingModule, path: Path) -> Path:
    """Save ``module`` with its one concrete serving function as the default signature."""
    try:
        tf.saved_model.save(module, str(path), signatures={SIGNATURE_KEY: module.concrete_function()})
    except tf.errors.OpError as exc:  # e.g. ResourceExhaustedError on a full disk: TF's, not an OSError
        raise as_os_error(exc) from None
    return path


def write_sidecar(path: Path, metadata: Metadata) -> Path:
    """Write the metadata JSON into the SavedModel's assets/ (plain JSON, readable without TF)."""
    sidecar = path / SIDECAR
    sidecar.parent.mkdir(exist_ok=True)
    sidecar.write_text(metadata.as_json())
    return sidecar
