"""Save and load a trained Classifier of any family: a TF checkpoint plus ``model.json`` describing it."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from contract.errors import first_line
from model.classifier import NETS, Classifier
from model.errors import ConfigError, DataError
from model.families import ModelSpec
from model.files import verify_manifest

MODEL_JSON = "model.json"
CHECKPOINT_PREFIX = "checkpoint/classifier"
#: model.json's format names the family whose variables the checkpoint holds (a run from before families is
#: "logreg-checkpoint/2", which logistic regression still writes), so an exporter that lacks a family refuses it.
FAMILY_OF_FORMAT = {net.checkpoint_format: family for family, net in NETS.items()}
#: Rows of the training table kept with the model, so the export can check parity on the user's own data.
REFERENCE_FILE = "reference_rows.npy"
REFERENCE_ROWS = 10_000


def save_classifier(classifier: Classifier, directory: Path, info: dict[str, Any]) -> None:
    """Write the variables under ``checkpoint/`` and ``info`` (feature names, threshold, ...) as model.json, with the
    family and its architecture."""
    try:
        tf.train.Checkpoint(classifier=classifier).write(str(directory / CHECKPOINT_PREFIX))
    except tf.errors.OpError as exc:  # TF's file errors are not OSErrors; keep the CLI's one-line contract
        raise as_os_error(exc) from None
    net = classifier.net
    payload = {"format": net.checkpoint_format, "n_features": classifier.n_features, "family": net.family,
               "architecture": net.spec.architecture(classifier.n_features), **info}
    (directory / MODEL_JSON).write_text(json.dumps(payload, indent=2) + "\n")


def save_reference_rows(x: np.ndarray, directory: Path) -> None:
    """The first rows of the table (at most REFERENCE_ROWS), float32, for the export's parity check."""
    np.save(directory / REFERENCE_FILE, np.ascontiguousarray(x[:REFERENCE_ROWS], np.float32), allow_pickle=False)


def load_reference_rows(directory: str | Path, n_features: int) -> np.ndarray:
    """The rows ``save_reference_rows`` wrote (the manifest has already vouched for them)."""
    path = Path(directory) / REFERENCE_FILE
    try:
        rows = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"Could not read {path}: {exc}. Train again with `python -m model.train`.") from None
    if rows.ndim != 2 or rows.shape[1] != n_features:
        raise DataError(f"{path} holds rows of shape {rows.shape}, expected [rows, {n_features}]. Train again.")
    return rows


def load_classifier(directory: str | Path) -> tuple[Classifier, dict[str, Any]]:
    """Rebuild the Classifier written by ``save_classifier``, refusing a folder whose files disagree.

    The run's manifest must vouch for every file (no model.json beside another run's checkpoint), every
    variable must be restored, and what model.json says must be what the checkpoint holds.
    """
    directory = Path(directory)
    info_path = directory / MODEL_JSON
    hint = "Run `python -m model.train --out DIR` first, then pass that DIR."
    if not info_path.is_file():
        raise DataError(f"No trained model in {directory}: {MODEL_JSON} is missing. {hint}")
    verify_manifest(directory, (MODEL_JSON, f"{CHECKPOINT_PREFIX}.index", REFERENCE_FILE))
    try:
        info = json.loads(info_path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"Could not read {info_path}: {exc}. {hint}") from None
    classifier = Classifier(int(info["n_features"]), spec=_spec(info, info_path, hint))
    try:
        status = tf.train.Checkpoint(classifier=classifier).read(str(directory / CHECKPOINT_PREFIX))
        status.assert_existing_objects_matched().expect_partial()
    except (tf.errors.OpError, ValueError, AssertionError) as exc:
        raise DataError(f"Could not restore the checkpoint in {directory / 'checkpoint'}: {first_line(exc)}. "
                        f"{hint}") from None
    _check_agrees(classifier, info, info_path)
    return classifier, info


def _spec(info: object, info_path: Path, hint: str) -> ModelSpec:
    """The family (from the format) and shape model.json describes."""
    found = info.get("format") if isinstance(info, dict) else info
    if not isinstance(info, dict) or found not in FAMILY_OF_FORMAT:
        raise DataError(f"Expected format {' or '.join(map(repr, FAMILY_OF_FORMAT))} in {info_path}, got {found!r}. "
                        f"{hint}")
    try:
        return ModelSpec.from_architecture(FAMILY_OF_FORMAT[found], info.get("architecture"))
    except (ConfigError, TypeError, ValueError) as exc:
        reason = str(exc).rstrip(".")
        raise DataError(f"{info_path} describes no model this version can build ({reason}). {hint}") from None


def _check_agrees(classifier: Classifier, info: dict[str, Any], info_path: Path) -> None:
    """model.json's facts must be the checkpoint's: feature count and threshold."""
    names = info.get("feature_names")
    if not isinstance(names, list) or len(names) != classifier.n_features:
        raise DataError(f"{info_path} names {len(names) if isinstance(names, list) else names!r} features, but the "
                        f"checkpoint has {classifier.n_features}; the folder mixes files of different runs.")
    stored = float(classifier.threshold.numpy())
    if float(np.float32(info.get("threshold", np.nan))) != stored:
        raise DataError(f"{info_path} says threshold {info.get('threshold')!r}, but the checkpoint holds {stored!r}; "
                        "the folder mixes files of different runs.")


def as_os_error(exc: Exception) -> OSError:
    """TensorFlow's I/O failures as the OSError they are (ENOSPC where the message says the disk is full)."""
    message = first_line(exc)
    code = errno.ENOSPC if "No space left on device" in message else errno.EIO
    return OSError(code, message)
