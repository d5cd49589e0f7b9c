"""Tests for export.validate: the parity check compares what it claims and can fail."""

from __future__ import annotations

import shutil
import warnings
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
    with pytest.raises(ParityError, match=r"^SavedModel and ONNX outputs disagree: reference/whole/tf-vs-onnx: "
                                          r"probability max \|diff\| \S+ > 1e-06; reference/whole/tf-vs-onnx: "
                                          r"logit max rel diff \S+ > 1e-05"):
        validate_parity(export_dir / "saved_model", bad, load_dataset().x, 0.5)


@pytest.mark.slow
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


@pytest.mark.slow
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


def test_parity_inputs_cover_the_data_wide_random_rows_and_edges() -> None:
    from export.validate import parity_inputs

    reference = np.array([[1.0, -2.0, 10.0], [3.0, 0.0, 30.0], [2.0, 2.0, 20.0]])
    sets = parity_inputs(reference, rows=2_000, seed=1)
    assert list(sets) == ["reference", "random_wide", "edge"]
    assert all(x.dtype == np.float32 and x.flags.c_contiguous for x in sets.values())
    assert np.array_equal(sets["reference"], reference.astype(np.float32))
    wide = sets["random_wide"]
    lo, hi, std = reference.min(axis=0), reference.max(axis=0), reference.std(axis=0)
    assert wide.shape == (2_000, 3)
    assert (wide >= (lo - 4 * std) - 1e-4).all() and (wide <= (hi + 4 * std) + 1e-4).all()
    # Beyond the data on both sides, not just inside it.
    assert (wide.min(axis=0) < lo - 3 * std).all() and (wide.max(axis=0) > hi + 3 * std).all()
    assert np.array_equal(wide, parity_inputs(reference, rows=2_000, seed=1)["random_wide"])
    assert not np.array_equal(wide, parity_inputs(reference, rows=2_000, seed=2)["random_wide"])
    edge = sets["edge"]
    big = np.finfo(np.float32).max
    assert edge.shape == (9, 3)  # 8 fixed rows and one extreme feature per 7 columns
    assert edge[:6].tolist() == np.asarray([[0] * 3, [1e30] * 3, [-1e30] * 3, [1e-30] * 3, [1e-40] * 3,
                                            [-1e30, 1e30, -1e30]], np.float32).tolist()
    assert edge[6].tolist() == (hi * 1e6).astype(np.float32).tolist()
    assert edge[7].tolist() == (lo - 1e6 * std).astype(np.float32).tolist()
    assert edge[8].tolist() == pytest.approx([big, 0.0, 20.0])
    assert len(parity_inputs(np.ones((2, 15)), rows=10)["edge"]) == 8 + 3  # columns 0, 7 and 14


def test_in_batches_keeps_row_order_for_any_batch_size() -> None:
    from export.validate import in_batches

    def predict(x: np.ndarray) -> dict[str, np.ndarray]:
        return {"probability": x[:, 0] * 2, "logit": x[:, 0] + 1, "label": (x[:, 0] > 3).astype(np.int64)}

    x = np.arange(14, dtype=np.float32).reshape(7, 2)
    whole = predict(x)
    for size in (1, 3, 7, 100):
        batched = in_batches(predict, x, size)
        assert list(batched) == ["probability", "logit", "label"]
        assert all(np.array_equal(batched[k], whole[k]) for k in whole)


def test_max_differences_is_the_worst_comparison_and_the_total_near_threshold_flips() -> None:
    from export.validate import max_differences

    report = {"comparisons": {
        "a": {"probability_max_abs_diff": 1e-9, "logit_max_rel_diff": 3e-7, "label_mismatches_near_threshold": 2},
        "b": {"probability_max_abs_diff": 4e-8, "logit_max_rel_diff": 1e-7, "label_mismatches_near_threshold": 1},
    }}
    assert max_differences(report) == {"probability_max_abs_diff": 4e-8, "logit_max_rel_diff": 3e-7,
                                       "label_mismatches_near_threshold": 3}


def test_parity_report_compares_every_set_and_batch_size_across_and_within_runtimes(export_dir: Path) -> None:
    reference = load_dataset().x[:50]
    report = validate_parity(export_dir / "saved_model", export_dir / "model.onnx", reference, 0.25)
    assert report["passed"] is True and report["threshold"] == 0.25
    assert report["tolerance"] == {"probability": 1e-6, "logit": 1e-5, "logit_range": 15.0, "label_margin": 1e-6}
    names = set(report["comparisons"])
    expected = {"reference/whole/tf-vs-onnx", "random_wide/whole/tf-vs-onnx", "edge/whole/tf-vs-onnx"}
    for set_name, sizes in (("reference", (1, 3)), ("random_wide", (65_536,)), ("edge", (1, 3))):
        for size in sizes:
            expected |= {f"{set_name}/batch{size}/tf-vs-onnx", f"{set_name}/batch{size}/tf-vs-tf-whole",
                         f"{set_name}/batch{size}/onnx-vs-onnx-whole"}
    assert names == expected
    assert report["comparisons"]["reference/whole/tf-vs-onnx"]["rows"] == 50
    assert report["comparisons"]["random_wide/whole/tf-vs-onnx"]["rows"] == 100_000


def test_a_label_flip_is_allowed_where_either_probability_is_within_the_margin_inclusive() -> None:
    tol = Tolerance(label_margin=0.25)
    a = _outputs([0.75, 0.9, 0.5, 0.8, 0.5], [1.1, 2.2, 0.0, 1.4, 0.0], [1, 1, 0, 1, 0])
    b = _outputs([0.9, 0.75, 0.8, 0.5, 0.5], [2.2, 1.1, 1.4, 0.0, 0.0], [0, 0, 1, 0, 0])
    c = compare(a, b, 0.5, tol)
    # Rows 1-4 differ with one side within 0.25 of the threshold (rows 1-2 exactly 0.25 away); row 5 agrees.
    assert (c["label_mismatches"], c["label_mismatches_near_threshold"]) == (0, 4)


def test_logits_are_compared_relative_to_their_size_and_only_where_both_are_below_the_range() -> None:
    a = _outputs([0.5, 1.0, 1.0, 1.0], [10.0, 15.0, 14.0, 16.0], [0, 1, 1, 1])
    b = _outputs([0.5, 1.0, 1.0, 1.0], [10.00005, 14.0, 15.0, 14.0], [0, 1, 1, 1])
    c = compare(a, b, 0.5, Tolerance())
    assert c["logit_rows_compared"] == 1  # |logit| 15 is not below the range of 15, on either side
    b10 = float(np.float32(10.00005))
    assert c["logit_max_rel_diff"] == pytest.approx((b10 - 10.0) / b10, rel=1e-6)  # over the larger |logit|


def test_rows_that_are_nan_or_infinite_in_both_runtimes_compare_quietly_and_agree() -> None:
    a = _outputs([np.nan, 1.0, 0.2], [np.nan, np.inf, -1.386], [0, 1, 0])
    b = _outputs([np.nan, 1.0, np.nan], [np.nan, np.inf, np.nan], [0, 1, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = compare(a, b, 0.5, Tolerance())
        only_nan = compare(_outputs([np.nan], [np.nan], [0]), _outputs([np.nan], [np.nan], [0]), 0.5, Tolerance())
    assert c["probability_max_abs_diff"] == 0.0 and c["nan_mismatches"] == 1  # the NaN on one side is not a diff
    assert only_nan["probability_max_abs_diff"] == only_nan["logit_max_rel_diff"] == 0.0


def test_a_difference_equal_to_the_tolerance_is_within_it() -> None:
    from export.validate import breaches

    tol = Tolerance(probability=0.25, logit=0.5)
    at = {"probability_max_abs_diff": 0.25, "logit_max_rel_diff": 0.5, "label_mismatches": 0, "nan_mismatches": 0}
    assert breaches("x", at, tol) == []


def test_a_runtime_whose_results_depend_on_the_batch_size_fails_parity(monkeypatch) -> None:
    """Both runtimes agree with each other at every batch size, but give other results in small batches than in
    one call: only the within-runtime comparisons can see that, and they must."""
    import export.validate

    def batch_dependent(path: Path):
        def predict(x: np.ndarray) -> dict[str, np.ndarray]:
            logit = np.tanh(x[:, 0].astype(np.float64)).astype(np.float32)
            if len(x) < 10:
                logit = logit + np.float32(1e-3)
            probability = (1 / (1 + np.exp(-logit))).astype(np.float32)
            return {"logit": logit, "probability": probability, "label": (probability > 0.5).astype(np.int64)}

        return predict

    monkeypatch.setattr(export.validate, "load_saved_model", batch_dependent)
    monkeypatch.setattr(export.validate, "load_onnx", batch_dependent)
    with pytest.raises(ParityError) as failed:
        validate_parity(Path("saved_model"), Path("model.onnx"), load_dataset().x[:50], 0.5)
    breached = {part.split(":")[0] for part in str(failed.value).split(": ", 1)[1].split("; ")}
    assert {"reference/batch1/tf-vs-tf-whole", "reference/batch3/onnx-vs-onnx-whole",
            "edge/batch1/onnx-vs-onnx-whole"} <= breached
    assert not any("tf-vs-onnx" in name or "random_wide" in name for name in breached), breached


def test_each_precision_has_its_tolerance_and_an_export_uses_its_models(export_dir: Path, mlp_export_dir: Path) -> None:
    import json

    from export.validate import TOLERANCES

    assert TOLERANCES["float64"] == Tolerance()  # logistic regression's, unchanged
    strict, float32 = TOLERANCES["float64"], TOLERANCES["float32"]
    assert float32.label_margin >= float32.probability  # a label may flip only where the probability may move
    for directory, tolerance in ((export_dir, strict), (mlp_export_dir, float32)):
        report = json.loads((directory / "parity.json").read_text())
        assert report["tolerance"] == vars(tolerance) and report["passed"]
        assert report["max"]["probability_max_abs_diff"] <= tolerance.probability
    mlp = json.loads((mlp_export_dir / "parity.json").read_text())["comparisons"]
    # onnxruntime sums each row in the same order at any batch size: the basis of byte-identical scoring.
    assert all(c["probability_max_abs_diff"] == c["logit_max_rel_diff"] == 0 for name, c in mlp.items()
               if "onnx-vs-onnx" in name)


def plant(mlp_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scale: float) -> Path:
    """Export the MLP with its last kernel scaled by ``scale`` in the ONNX graph only, as a converter bug would."""
    import export.onnx

    convert = export.onnx.convert

    def planted(module, opset):  # noqa: ANN001, ANN202
        model = convert(module, opset)
        kernel = module.classifier.net.kernels[-1].numpy()
        init = next(i for i in model.graph.initializer if list(i.dims) == list(kernel.shape))
        init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * np.float32(scale), init.name))
        return model

    monkeypatch.setattr(export.onnx, "convert", planted)
    out = tmp_path / "export"
    export_model(mlp_model_dir, out)
    return out


@pytest.mark.slow
def test_a_planted_mismatch_in_an_mlp_fails_its_export(mlp_model_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """One weight matrix off by 1e-4 of itself: within float32's reach of many ulps, far beyond GEMM rounding."""
    with pytest.raises(ParityError, match=r"tf-vs-onnx: (probability max \|diff\| \S+ > 1e-05|logit max rel diff "
                                          r"\S+ > 5e-05)"):
        plant(mlp_model_dir, tmp_path, monkeypatch, 1 + 1e-4)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    assert (plant(mlp_model_dir, tmp_path, monkeypatch, 1.0) / "model.onnx").is_file()  # the plant itself is no breach


def test_parity_inputs_of_features_near_1e30_stay_finite() -> None:
    """The issue's case: exporting a model trained on a feature around 1e30 was an OverflowError traceback (the
    widened float32 range overflowed numpy's uniform)."""
    from export.validate import parity_inputs

    reference = np.array([[1.0, 1e30], [2.0, -3e30], [3.0, 3.3e38]], np.float32)
    for name, x in parity_inputs(reference, rows=1000).items():
        assert x.dtype == np.float32 and np.isfinite(x[:, 0]).all(), name
    assert np.isfinite(parity_inputs(reference, rows=1000)["random_wide"]).all()
