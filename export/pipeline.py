"""export_model(...): load a training run, write both artifacts, stamp metadata, check parity."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from contract.artifacts import (
    EXPORT_MANIFEST_FORMAT,
    ONNX_FILE,
    PARITY_REPORT,
    SAVED_MODEL_DIR,
    ModelRef,
    sha256_file,
    sha256_saved_model,
    write_manifest,
)
from contract.metadata import Hashes
from contract.verify import check_labels, check_saved_model_threshold, read_metadata
from export.layout import EXPORT
from export.metadata import base_metadata
from export.onnx import DEFAULT_OPSET, export_onnx
from export.saved_model import export_saved_model, write_sidecar
from export.signature import ServingModule
from export.validate import TOLERANCES, Tolerance, load_onnx, load_saved_model, max_differences, validate_parity
from model.checkpoint import load_classifier, load_reference_rows
from model.files import atomic_directory


def export_model(model_dir: str | Path, out: str | Path, opset: int = DEFAULT_OPSET,
                 tolerance: Tolerance | None = None,
                 on_step: Callable[[str], None] = lambda message: None) -> dict[str, Any]:
    """Write ``out/saved_model``, ``out/model.onnx`` and ``out/parity.json``, or nothing at all.

    Both artifacts come from one concrete function: the SavedModel's ``serving_default`` and the
    function tf2onnx converts are the same object (tests check it). Parity is checked after both
    are written, by loading them back on rows of the training table; a breach raises ParityError
    and ``out`` is left untouched. Last, both are loaded the way a scorer loads them (verified). ``tolerance``
    defaults to the one for the precision the model computes in (``TOLERANCES``).
    """
    on_step(f"loading the trained model in {model_dir} ...")
    classifier, info = load_classifier(model_dir)
    module = ServingModule(classifier)
    metadata = base_metadata(classifier, info, opset)
    reference = load_reference_rows(model_dir, classifier.n_features)
    tolerance = tolerance or TOLERANCES[classifier.net.compute_dtype]
    with atomic_directory(out, EXPORT, {"--model": model_dir}) as staging:
        saved_model, onnx_path = staging / SAVED_MODEL_DIR, staging / ONNX_FILE
        on_step("writing the SavedModel ...")
        export_saved_model(module, saved_model)
        saved_model_sha = sha256_saved_model(saved_model)
        on_step(f"converting the same function to ONNX with tf2onnx (opset {opset}) ...")
        export_onnx(module, onnx_path, metadata.naming(saved_model_sha256=saved_model_sha), opset)
        onnx_sha = sha256_file(onnx_path)
        write_sidecar(saved_model, metadata.naming(onnx_sha256=onnx_sha))
        on_step(f"checking parity on {len(reference):,} rows of the training table, 100,000 random rows and edge "
                "rows, at several batch sizes ...")
        report = validate_parity(saved_model, onnx_path, reference, metadata.threshold, tolerance)
        report["max"] = max_differences(report)
        report["artifacts"] = {**Hashes(onnx_sha256=onnx_sha, saved_model_sha256=saved_model_sha).as_dict(),
                               "opset": opset}
        (staging / PARITY_REPORT).write_text(json.dumps(report, indent=2) + "\n")
        write_manifest(staging, EXPORT_MANIFEST_FORMAT)  # last: it vouches for every file above
        on_step("checking both artifacts as a scorer does on load ...")
        check_as_loaded(staging)
    return report


def check_as_loaded(export_dir: Path) -> None:
    """What every scorer checks on load must hold from the start: siblings, the manifest, metadata, each graph's
    threshold, and each artifact's outputs and labels on probe rows."""
    import tensorflow as tf

    for runtime, name in (("onnx", ONNX_FILE), ("tf", SAVED_MODEL_DIR)):
        meta = read_metadata(ModelRef(runtime, export_dir / name, export_dir))
    saved_model = export_dir / SAVED_MODEL_DIR
    check_saved_model_threshold(tf.saved_model.load(str(saved_model)), meta.threshold, saved_model)
    for load, path in ((load_onnx, export_dir / ONNX_FILE), (load_saved_model, saved_model)):
        check_labels(load(path), len(meta.feature_names), meta.threshold, path)  # what runs, as a scorer proves it
