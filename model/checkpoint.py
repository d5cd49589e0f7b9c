"""Save and load a trained Classifier: a TF checkpoint plus ``model.json`` describing it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import tensorflow as tf

from model.errors import DataError
from model.logistic import Classifier

MODEL_JSON = "model.json"
CHECKPOINT_PREFIX = "checkpoint/classifier"
FORMAT = "wdbc-logreg-checkpoint/1"


def save_classifier(classifier: Classifier, directory: Path, info: dict[str, Any]) -> None:
    """Write the variables under ``checkpoint/`` and ``info`` (feature names, threshold, ...) as model.json."""
    tf.train.Checkpoint(classifier=classifier).write(str(directory / CHECKPOINT_PREFIX))
    payload = {"format": FORMAT, "n_features": classifier.n_features, **info}
    (directory / MODEL_JSON).write_text(json.dumps(payload, indent=2) + "\n")


def load_classifier(directory: str | Path) -> tuple[Classifier, dict[str, Any]]:
    """Rebuild the Classifier written by ``save_classifier``; every variable must be restored."""
    directory = Path(directory)
    info_path = directory / MODEL_JSON
    hint = "Run `python -m model.train --out DIR` first, then pass that DIR."
    if not info_path.is_file():
        raise DataError(f"No trained model in {directory}: {MODEL_JSON} is missing. {hint}")
    try:
        info = json.loads(info_path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"Could not read {info_path}: {exc}. {hint}") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise DataError(f"Expected format {FORMAT!r} in {info_path}, got {info.get('format') if isinstance(info, dict) else info!r}. {hint}")
    classifier = Classifier(int(info["n_features"]))
    try:
        status = tf.train.Checkpoint(classifier=classifier).read(str(directory / CHECKPOINT_PREFIX))
        status.assert_existing_objects_matched().expect_partial()
    except (tf.errors.OpError, ValueError, AssertionError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"Could not restore the checkpoint in {directory / 'checkpoint'}: {first_line}. {hint}") from None
    return classifier, info
