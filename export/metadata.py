"""The metadata each artifact carries: facts of the trained model (from its checkpoint) and of the export."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from model.files import package_versions
from model.logistic import Classifier
from scoring.artifacts import EXPORT_FORMAT, INPUT_NAME, OUTPUT_NAMES

VERSIONED = ("tensorflow", "tf2onnx", "onnx", "onnxruntime", "numpy", "protobuf")


def base_metadata(classifier: Classifier, info: dict[str, Any], opset: int) -> dict[str, Any]:
    """What both artifacts carry. Threshold and width come from the checkpoint's variables, the names and
    label from model.json, which the training manifest binds to that checkpoint."""
    return {
        "format": EXPORT_FORMAT,
        "feature_names": list(info["feature_names"]),
        "n_features": classifier.n_features,
        "feature_aliases": info.get("feature_aliases") or {},
        "input_name": INPUT_NAME,
        "output_names": list(OUTPUT_NAMES),
        "threshold": float(classifier.threshold.numpy()),
        "label_column": info["label_column"],
        "positive_class": info["positive_class"],
        "negative_class": info["negative_class"],
        "label_meaning": info["label_meaning"],
        "positive_label": 1,
        "metrics": info["metrics"],
        "data_fingerprint_sha256": info["data_fingerprint_sha256"],
        "training_config": info.get("config"),
        "opset": opset,
        "versions": package_versions(*VERSIONED),
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
