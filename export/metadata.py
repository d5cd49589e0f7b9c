"""The metadata each artifact carries: facts of the trained model (from its checkpoint) and of the export."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from contract.metadata import Metadata
from model.classifier import Classifier
from model.files import package_versions

VERSIONED = ("tensorflow", "tf2onnx", "onnx", "onnxruntime", "numpy", "protobuf")


def base_metadata(classifier: Classifier, info: dict[str, Any], opset: int) -> Metadata:
    """What both artifacts carry. Threshold, width, family and architecture come from the restored checkpoint, the
    names and label from model.json, which the training manifest binds to that checkpoint."""
    return Metadata(
        feature_names=list(info["feature_names"]),
        n_features=classifier.n_features,
        family=classifier.net.family,
        layer_widths=classifier.net.spec.layer_widths(classifier.n_features),
        activation=classifier.net.spec.activation,
        feature_aliases=info.get("feature_aliases") or {},
        threshold=float(classifier.threshold.numpy()),
        label_column=info["label_column"],
        positive_class=info["positive_class"],
        negative_class=info["negative_class"],
        label_meaning=info["label_meaning"],
        id_columns=list(info.get("id_columns") or []),
        # A model trained before these were recorded read values as its scorer did: only empty is missing.
        na_values=list(info.get("na_values") or []),
        decimal=info.get("decimal", "."),
        metrics=info["metrics"],
        data_fingerprint_sha256=info["data_fingerprint_sha256"],
        training_config=info.get("config"),
        opset=opset,
        versions=package_versions(*VERSIONED),
        exported_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
