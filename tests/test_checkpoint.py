"""Tests for model.checkpoint: a saved model restores exactly, and a broken one fails clearly."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from model.checkpoint import load_classifier
from model.errors import DataError
from model.files import write_manifest
from model.wdbc import FEATURE_NAMES


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
    with pytest.raises(DataError, match=r"classifier.data-00000-of-00001 is not the file this run wrote"):
        load_classifier(broken)
    write_manifest(broken)  # even when the manifest vouches for them, broken files are refused
    with pytest.raises(DataError, match="Could not restore the checkpoint"):
        load_classifier(broken)


def test_model_json_of_another_run_is_refused(model_dir: Path, tmp_path: Path) -> None:
    """The issue's case: run A's model.json beside run B's checkpoint gave run A's threshold in the metadata."""
    from model.fit import FitConfig
    from model.run import save_run, train

    other = save_run(train(FitConfig(epochs=5), target_fnr=0.0), tmp_path / "other")
    mixed = tmp_path / "mixed"
    shutil.copytree(model_dir, mixed)
    shutil.copy(other / "model.json", mixed / "model.json")
    with pytest.raises(DataError, match=r"mixed/model.json is not the file this run wrote"):
        load_classifier(mixed)
    write_manifest(mixed)  # a manifest made up afterwards cannot hide the disagreement
    with pytest.raises(DataError, match=r"model.json says threshold .*, but the checkpoint holds 0.5; the folder mixes"):
        load_classifier(mixed)


def test_missing_manifest_is_refused(model_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "old"
    shutil.copytree(model_dir, broken)
    (broken / "manifest.json").unlink()
    with pytest.raises(DataError, match=r"has no manifest.json .* Train again"):
        load_classifier(broken)


def test_wrong_format_is_reported(model_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    (broken / "model.json").write_text('{"format": "something-else"}')
    with pytest.raises(DataError, match=r"model.json is not the file this run wrote \(its SHA-256 differs"):
        load_classifier(broken)
