"""Tests for export.validate: the parity check compares what it claims and can fail."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from export.errors import ParityError
from export.pipeline import export_model
from export.validate import Tolerance, compare, validate_parity
from model.data import load_dataset


def test_compare_allows_label_flips_only_at_the_threshold() -> None:
    a = {"probability": np.array([0.5, 0.9], np.float32), "logit": np.array([0.0, 2.2], np.float32),
         "label": np.array([0, 1])}
    b = {"probability": np.array([0.5000004, 0.9], np.float32), "logit": np.array([1.6e-6, 2.2], np.float32),
         "label": np.array([1, 1])}
    c = compare(a, b, 0.5, Tolerance())
    assert c["label_mismatches"] == 0 and c["label_mismatches_near_threshold"] == 1
    b["label"] = np.array([1, 0])
    assert compare(a, b, 0.5, Tolerance())["label_mismatches"] == 1


def perturb_onnx_weights(source: Path, target: Path, delta: float) -> None:
    """Add ``delta`` to the largest float initializer (the weight vector)."""
    model = onnx.load(str(source))
    init = max((i for i in model.graph.initializer if i.data_type in (1, 11)), key=lambda i: np.prod(i.dims))
    array = numpy_helper.to_array(init) + delta
    init.CopyFrom(numpy_helper.from_array(array.astype(numpy_helper.to_array(init).dtype), init.name))
    onnx.save(model, str(target))


def test_a_perturbed_onnx_weight_is_caught(export_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "perturbed.onnx"
    perturb_onnx_weights(export_dir / "model.onnx", bad, 1e-3)
    with pytest.raises(ParityError, match=r"probability max \|diff\| \S+ > 1e-06.*logit max rel diff \S+ > 1e-05"):
        validate_parity(export_dir / "saved_model", bad, load_dataset().x, 0.5)


def test_parity_failure_leaves_the_previous_export_untouched(model_dir: Path, export_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    shutil.copytree(export_dir, out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    impossible = Tolerance(probability=-1.0)  # every comparison breaches
    with pytest.raises(ParityError, match="probability max"):
        export_model(model_dir, out, tolerance=impossible)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]  # no staging directory left


def test_parity_failure_leaves_no_directory(model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ParityError):
        export_model(model_dir, tmp_path / "new", tolerance=Tolerance(probability=-1.0))
    assert list(tmp_path.iterdir()) == []
