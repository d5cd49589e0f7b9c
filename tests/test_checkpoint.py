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


@pytest.mark.slow
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


def test_an_mlp_round_trips_with_its_family_and_shape(trained_mlp, mlp_model_dir: Path) -> None:
    clf, info = load_classifier(mlp_model_dir)
    assert (info["format"], info["family"]) == ("mlp-checkpoint/1", "mlp")
    assert clf.net.spec == trained_mlp.classifier.net.spec
    for a, b in zip(trained_mlp.classifier.variables, clf.variables):
        assert a.name == b.name and a.numpy().tobytes() == b.numpy().tobytes()
    x = np.random.default_rng(0).normal(size=(5, 30)).astype(np.float32)
    np.testing.assert_array_equal(clf.outputs(x)["logit"], trained_mlp.classifier.outputs(x)["logit"])


def _rewritten(model_dir: Path, tmp_path: Path, **changes: object) -> Path:
    """A copy of the run whose model.json says something else, with a manifest that vouches for it."""
    import json

    copy = tmp_path / "changed"
    shutil.copytree(model_dir, copy)
    info = json.loads((copy / "model.json").read_text())
    (copy / "model.json").write_text(json.dumps({**info, **changes}))
    write_manifest(copy)
    return copy


def test_a_run_before_families_restores_as_logistic_regression(model_dir: Path, tmp_path: Path) -> None:
    import json

    old = _rewritten(model_dir, tmp_path)
    info = json.loads((old / "model.json").read_text())
    del info["family"], info["architecture"]
    (old / "model.json").write_text(json.dumps(info))
    write_manifest(old)
    clf, _ = load_classifier(old)
    assert clf.net.family == "logreg" and info["format"] == "logreg-checkpoint/2"


def test_a_family_this_version_lacks_is_refused_by_its_format(mlp_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"Expected format 'logreg-checkpoint/2' or 'mlp-checkpoint/1' in .*model.json,"
                                        r" got 'cnn-checkpoint/1'"):
        load_classifier(_rewritten(mlp_model_dir, tmp_path, format="cnn-checkpoint/1"))


def test_a_shape_that_is_not_the_checkpoints_is_refused(mlp_model_dir: Path, tmp_path: Path) -> None:
    changed = _rewritten(mlp_model_dir, tmp_path, architecture={"layer_widths": [30, 8, 1], "activation": "relu"})
    with pytest.raises(DataError, match="Could not restore the checkpoint"):
        load_classifier(changed)
    (tmp_path / "changed").rename(tmp_path / "first")
    with pytest.raises(DataError, match=r"model.json describes no model this version can build \(--activation must"):
        load_classifier(_rewritten(mlp_model_dir, tmp_path,
                                   architecture={"layer_widths": [30, 8, 1], "activation": "x"}))
