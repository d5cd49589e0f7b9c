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


def _outputs(p: list[float], logit: list[float], label: list[int]) -> dict[str, np.ndarray]:
    return {"probability": np.array(p, np.float32), "logit": np.array(logit, np.float32), "label": np.array(label)}


def test_each_kind_of_breach_is_reported_on_its_own() -> None:
    """Every rule fires alone: a logit difference with equal probabilities, a NaN in one runtime only, and a
    single label flip far from the threshold."""
    tol = Tolerance()
    base = _outputs([0.2, 0.95], [-1.386, 2.944], [0, 1])
    from export.validate import breaches

    logit_only = _outputs([0.2, 0.95], [-1.386, 2.95], [0, 1])
    c = compare(base, logit_only, 0.5, tol)
    assert [b.split(":")[1].split()[0] for b in breaches("x", c, tol)] == ["logit"]
    nan_one_side = _outputs([0.2, np.nan], [-1.386, np.nan], [0, 1])
    c = compare(base, nan_one_side, 0.5, tol)
    assert c["nan_mismatches"] == 1 and breaches("x", c, tol) == ["x: NaN in one runtime only on 1 rows (allowed 0)"]
    flipped = _outputs([0.2, 0.95], [-1.386, 2.944], [1, 1])
    c = compare(base, flipped, 0.5, tol)
    assert breaches("x", c, tol) == ["x: label differs on 1 rows away from the threshold (allowed 0)"]
    assert breaches("x", compare(base, base, 0.5, tol), tol) == []


def test_logit_tolerance_is_relative_and_only_below_the_range() -> None:
    tol = Tolerance()
    a = _outputs([0.5, 1.0], [0.0, 20.0], [0, 1])
    b = _outputs([0.5, 1.0], [9e-6, 20.1], [0, 1])  # within 1e-5 of max(|logit|, 1); beyond 15 not compared
    c = compare(a, b, 0.5, tol)
    assert c["logit_max_rel_diff"] == pytest.approx(9e-6, rel=1e-3) and c["logit_rows_compared"] == 1
