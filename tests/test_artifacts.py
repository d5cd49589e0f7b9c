"""Tests for contract.artifacts: which runtime a --model path means, and clear errors otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.artifacts import resolve_model
from contract.errors import ModelError


@pytest.mark.slow
def test_paths_resolve_to_runtimes(export_dir: Path) -> None:
    assert resolve_model(export_dir, None).runtime == "onnx"
    assert resolve_model(export_dir, "tf").path == export_dir / "saved_model"
    assert resolve_model(export_dir / "model.onnx", None).runtime == "onnx"
    assert resolve_model(export_dir / "saved_model", None).runtime == "tf"


def test_mismatched_runtime_and_path(export_dir: Path) -> None:
    with pytest.raises(ModelError, match="--runtime tf needs a SavedModel directory"):
        resolve_model(export_dir / "model.onnx", "tf")
    with pytest.raises(ModelError, match="--runtime onnx needs an ONNX file"):
        resolve_model(export_dir / "saved_model", "onnx")


def test_missing_and_wrong_paths(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"No model at .*missing\. Run `python -m model.train && python -m export`"):
        resolve_model(tmp_path / "missing", None)
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(ModelError, match=r"Expected an ONNX file \(\*\.onnx\)"):
        resolve_model(tmp_path / "weights.bin", None)
    with pytest.raises(ModelError, match="No ONNX file in"):
        resolve_model(tmp_path, None)


def test_saved_model_hash_covers_names_and_contents_but_not_the_sidecar(export_dir: Path, tmp_path: Path) -> None:
    import shutil

    from contract.artifacts import SIDECAR, sha256_saved_model

    copy = tmp_path / "sm"
    shutil.copytree(export_dir / "saved_model", copy)
    original = sha256_saved_model(copy)
    (copy / SIDECAR).write_text("{}")
    assert sha256_saved_model(copy) == original  # the sidecar holds the ONNX hash, so it cannot be in this one
    data = copy / "variables" / "variables.data-00000-of-00001"
    content = bytearray(data.read_bytes())
    content[-1] ^= 1
    data.write_bytes(bytes(content))
    assert sha256_saved_model(copy) != original  # one flipped bit
    data.rename(copy / "variables" / "renamed")
    content[-1] ^= 1
    (copy / "variables" / "renamed").write_bytes(bytes(content))
    assert sha256_saved_model(copy) != original  # same bytes under another name


def test_a_saved_model_without_its_graph_says_so(export_dir: Path, tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "sm"
    shutil.copytree(export_dir / "saved_model", broken)
    (broken / "saved_model.pb").unlink()
    with pytest.raises(ModelError, match=r"sm looks like a SavedModel directory, but its saved_model.pb is missing"):
        resolve_model(broken, None)
