"""Parity between the SavedModel and the ONNX model, loaded back with their plain runtime APIs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from export.errors import ParityError
from export.signature import INPUT_NAME, OUTPUT_NAMES, SIGNATURE_KEY

Predict = Callable[[np.ndarray], dict[str, np.ndarray]]


@dataclass(frozen=True)
class Tolerance:
    """Probability: absolute. Logit: relative to max(|logit|, 1), only where |logit| < logit_range.
    Label: identical except where the probability is within ``label_margin`` of the threshold."""

    probability: float = 1e-6
    logit: float = 1e-5
    logit_range: float = 15.0
    label_margin: float = 1e-6


#: The tolerances by the precision a graph computes its logit in (model.classifier.Net.compute_dtype). A float64
#: graph makes the runtimes agree to the last float32 bit, so the default is strict. A float32 graph's matrix
#: products sum in each runtime's own order: over 7 trained MLPs (docs/export.md) TensorFlow and onnxruntime
#: differed by at most 1.8e-6 in probability and 7.7e-6 in relative logit, so these allow about 5x that and the
#: labels the same margin; a real breach (a wrong weight, op or threshold) is orders of magnitude larger.
TOLERANCES = {"float64": Tolerance(), "float32": Tolerance(probability=1e-5, logit=5e-5, label_margin=1e-5)}


def load_saved_model(path: Path) -> Predict:
    """The SavedModel's serving signature through plain ``tf.saved_model.load``."""
    import tensorflow as tf

    signature = tf.saved_model.load(str(path)).signatures[SIGNATURE_KEY]

    def predict(x: np.ndarray) -> dict[str, np.ndarray]:
        return {k: v.numpy() for k, v in signature(**{INPUT_NAME: tf.constant(x)}).items()}

    return predict


def load_onnx(path: Path) -> Predict:
    """The ONNX model in a fresh onnxruntime session; outputs matched by name, never position."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]

    def predict(x: np.ndarray) -> dict[str, np.ndarray]:
        return dict(zip(names, session.run(names, {INPUT_NAME: x})))

    return predict


def in_batches(predict: Predict, x: np.ndarray, batch_size: int) -> dict[str, np.ndarray]:
    parts = [predict(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    return {name: np.concatenate([p[name] for p in parts]) for name in OUTPUT_NAMES}


def parity_inputs(reference: np.ndarray, rows: int = 100_000, seed: int = 0) -> dict[str, np.ndarray]:
    """The input sets: the reference (WDBC) rows, wide random rows, and edge rows."""
    rng = np.random.default_rng(seed)
    wide64 = np.asarray(reference, np.float64)  # a feature near 1e30: its float32 range overflowed in a traceback
    lo, hi, std = wide64.min(axis=0), wide64.max(axis=0), wide64.std(axis=0)
    # Uniform over the data range widened by 4 standard deviations on each side (negative values included), within
    # float32's range.
    top = float(np.finfo(np.float32).max)
    wide = rng.uniform(np.clip(lo - 4 * std, -top, top), np.clip(hi + 4 * std, -top, top),
                       size=(rows, reference.shape[1]))
    n = reference.shape[1]
    edge = [np.zeros(n), np.full(n, 1e30), np.full(n, -1e30), np.full(n, 1e-30), np.full(n, 1e-40),
            np.where(np.arange(n) % 2, 1e30, -1e30), hi * 1e6, lo - 1e6 * std]
    for j in range(0, n, 7):  # one extreme feature at a time: logits saturate to +-inf
        row = reference.mean(axis=0).copy()
        row[j] = np.finfo(np.float32).max
        edge.append(row)
    return {
        "reference": np.ascontiguousarray(reference, np.float32),
        "random_wide": wide.astype(np.float32),
        "edge": np.asarray(edge, np.float32),
    }


def compare(a: dict[str, np.ndarray], b: dict[str, np.ndarray], threshold: float, tol: Tolerance) -> dict[str, Any]:
    """Max differences of two runs' outputs on the same rows, and label mismatches by kind."""
    pa, pb = (np.asarray(r["probability"], np.float64) for r in (a, b))
    la, lb = (np.asarray(r["logit"], np.float64) for r in (a, b))
    nan_mismatch = np.isnan(pa) != np.isnan(pb)
    both = ~np.isnan(pa) & ~np.isnan(pb)
    in_range = both & (np.abs(la) < tol.logit_range) & (np.abs(lb) < tol.logit_range)
    with np.errstate(invalid="ignore"):
        rel = np.abs(la - lb) / np.maximum(1.0, np.maximum(np.abs(la), np.abs(lb)))
    mismatch = np.asarray(a["label"]) != np.asarray(b["label"])
    near = (np.abs(pa - threshold) <= tol.label_margin) | (np.abs(pb - threshold) <= tol.label_margin)
    return {
        "rows": int(len(pa)),
        "probability_max_abs_diff": float(np.max(np.abs(pa - pb)[both], initial=0.0)),
        "logit_max_rel_diff": float(np.max(rel[in_range], initial=0.0)),
        "logit_rows_compared": int(in_range.sum()),
        "label_mismatches": int((mismatch & ~near).sum()),
        "label_mismatches_near_threshold": int((mismatch & near).sum()),
        "nan_mismatches": int(nan_mismatch.sum()),
    }


def breaches(name: str, c: dict[str, Any], tol: Tolerance) -> list[str]:
    """Human-readable tolerance breaches of one comparison."""
    out = []
    if c["probability_max_abs_diff"] > tol.probability:
        out.append(f"{name}: probability max |diff| {c['probability_max_abs_diff']:.3g} > {tol.probability:g}")
    if c["logit_max_rel_diff"] > tol.logit:
        out.append(f"{name}: logit max rel diff {c['logit_max_rel_diff']:.3g} > {tol.logit:g} (|logit| < {tol.logit_range:g})")
    if c["label_mismatches"]:
        out.append(f"{name}: label differs on {c['label_mismatches']} rows away from the threshold (allowed 0)")
    if c["nan_mismatches"]:
        out.append(f"{name}: NaN in one runtime only on {c['nan_mismatches']} rows (allowed 0)")
    return out


#: Batch sizes each input set is also run at (besides the whole set in one call).
BATCH_SIZES = {"reference": (1, 3), "random_wide": (65_536,), "edge": (1, 3)}


def validate_parity(
    saved_model: Path, onnx_path: Path, reference: np.ndarray, threshold: float, tol: Tolerance = Tolerance()
) -> dict[str, Any]:
    """Compare both artifacts on every input set and batch size; raise ParityError listing every breach.

    Within each runtime, results at every batch size are also compared with the whole-set call.
    """
    runtimes = {"tf": load_saved_model(saved_model), "onnx": load_onnx(onnx_path)}
    report: dict[str, Any] = {"tolerance": vars(tol), "threshold": threshold, "comparisons": {}}
    problems: list[str] = []
    for set_name, x in parity_inputs(reference).items():
        whole = {rt: predict(x) for rt, predict in runtimes.items()}
        checks = {f"{set_name}/whole/tf-vs-onnx": (whole["tf"], whole["onnx"])}
        for size in BATCH_SIZES[set_name]:
            batched = {rt: in_batches(predict, x, size) for rt, predict in runtimes.items()}
            checks[f"{set_name}/batch{size}/tf-vs-onnx"] = (batched["tf"], batched["onnx"])
            for rt in runtimes:
                checks[f"{set_name}/batch{size}/{rt}-vs-{rt}-whole"] = (batched[rt], whole[rt])
        for name, (a, b) in checks.items():
            report["comparisons"][name] = compare(a, b, threshold, tol)
            problems += breaches(name, report["comparisons"][name], tol)
    report["passed"] = not problems
    if problems:
        raise ParityError("SavedModel and ONNX outputs disagree: " + "; ".join(problems))
    return report


def max_differences(report: dict[str, Any]) -> dict[str, float]:
    """The largest difference of each kind over every comparison: the headline of the parity report."""
    comparisons = report["comparisons"].values()
    return {
        "probability_max_abs_diff": max(c["probability_max_abs_diff"] for c in comparisons),
        "logit_max_rel_diff": max(c["logit_max_rel_diff"] for c in comparisons),
        "label_mismatches_near_threshold": sum(c["label_mismatches_near_threshold"] for c in comparisons),
    }
