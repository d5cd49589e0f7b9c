"""Tests for model.checkpoint: a saved model restores exactly, and a broken one fails clearly."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from model.checkpoint import load_classifier
from model.data import FEATURE_NAMES
from model.errors import DataError


def test_round_trip_restores_every_variable(trained, model_dir: Path) -> None:
    clf, info = load_classifier(model_dir)
    for a, b in zip(trained.classifier.variables, clf.variables):
        assert a.name == b.name and a.numpy().tobytes() == b.numpy().tobytes()
    assert info["feature_names"] == list(FEATURE_NAMES)
    x = np.random.default_rng(0).normal(size=(5, 30)).astype(np.float32)
    np.testing.assert_array_equal(clf.outputs(x)["logit"], trained.classifier.outputs(x)["logit"])


def test_missing_model_says_which_command_makes_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"model.json is missing. Run `python -m model.train"):
        load_classifier(tmp_path)


def test_corrupt_checkpoint_is_reported(model_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    for f in (broken / "checkpoint").iterdir():
        f.write_bytes(b"garbage")
    with pytest.raises(DataError, match="Could not restore the checkpoint"):
        load_classifier(broken)


def test_wrong_format_is_reported(model_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    (broken / "model.json").write_text('{"format": "something-else"}')
    with pytest.raises(DataError, match="Expected format 'wdbc-logreg-checkpoint/1'"):
        load_classifier(broken)
