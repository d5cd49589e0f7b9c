"""Tests for export.pipeline, export.saved_model and export.onnx: artifacts, metadata, plain-API loading."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import tensorflow as tf

from contract.artifacts import DEFAULT_OPSET, SIDECAR, sha256_file, sha256_saved_model
from contract.metadata import EXPORT_FORMAT
from export.metadata import base_metadata
from export.onnx import export_onnx
from export.saved_model import export_saved_model
from export.signature import OUTPUT_NAMES, ServingModule
from model.checkpoint import load_classifier
from model.data import load_dataset
from model.wdbc import FEATURE_NAMES


@pytest.fixture(scope="module")
def wdbc_x() -> np.ndarray:
    return load_dataset().x


def test_saved_model_serves_with_plain_tf_api(export_dir: Path, wdbc_x: np.ndarray) -> None:
    signature = tf.saved_model.load(str(export_dir / "saved_model")).signatures["serving_default"]
    assert list(signature.structured_input_signature[1]) == ["features"]
    out = signature(features=tf.constant(wdbc_x))
    assert sorted(out) == sorted(OUTPUT_NAMES)
    assert out["probability"].dtype == tf.float32 and out["probability"].shape == (569,)
    assert out["logit"].dtype == tf.float32 and out["label"].dtype == tf.int64
    labels = load_dataset().y
    assert np.mean(out["label"].numpy() == labels) > 0.97


def test_onnx_graph_has_one_dynamic_input_named_outputs_and_pinned_opset(export_dir: Path) -> None:
    model = onnx.load(str(export_dir / "model.onnx"))
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == ["features"]
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == 30  # batch axis dynamic, and readable
    assert [o.type.tensor_type.shape.dim[0].dim_param for o in model.graph.output] == ["batch"] * 3
    assert sorted(o.name for o in model.graph.output) == sorted(OUTPUT_NAMES)
    assert {o.domain: o.version for o in model.opset_import}[""] == DEFAULT_OPSET


def test_onnx_metadata_is_readable_through_onnxruntime(export_dir: Path) -> None:
    meta = ort.InferenceSession(str(export_dir / "model.onnx")).get_modelmeta().custom_metadata_map
    assert json.loads(meta["feature_names"]) == list(FEATURE_NAMES)
    assert 0 < float(meta["threshold"]) < 1
    assert json.loads(meta["label_meaning"])["1"].startswith("malignant")
    assert int(meta["opset"]) == DEFAULT_OPSET
    for key in ("metrics", "data_fingerprint_sha256", "versions", "exported_at", "saved_model_sha256"):
        assert meta[key], key
    assert json.loads(meta["versions"])["tf2onnx"] == "1.17.0"


def test_each_artifact_records_the_others_sha256(export_dir: Path) -> None:
    sidecar = json.loads((export_dir / "saved_model" / SIDECAR).read_text())
    meta = ort.InferenceSession(str(export_dir / "model.onnx")).get_modelmeta().custom_metadata_map
    assert sidecar["onnx_sha256"] == sha256_file(export_dir / "model.onnx")
    assert meta["saved_model_sha256"] == sha256_saved_model(export_dir / "saved_model")
    assert sidecar["feature_names"] == json.loads(meta["feature_names"])
    assert sidecar["threshold"] == float(meta["threshold"])


def test_parity_report_shows_measured_differences(export_dir: Path) -> None:
    report = json.loads((export_dir / "parity.json").read_text())
    assert report["passed"] is True
    names = set(report["comparisons"])
    for expected in ("reference/whole/tf-vs-onnx", "reference/batch1/tf-vs-onnx", "reference/batch3/tf-vs-onnx",
                     "random_wide/batch65536/tf-vs-onnx", "edge/whole/tf-vs-onnx", "edge/batch1/onnx-vs-onnx-whole"):
        assert expected in names
    assert report["comparisons"]["random_wide/whole/tf-vs-onnx"]["rows"] == 100_000
    assert report["max"]["probability_max_abs_diff"] <= 1e-6
    assert report["max"]["logit_max_rel_diff"] <= 1e-5


def test_both_exports_use_the_same_concrete_function(model_dir: Path, tmp_path: Path) -> None:
    classifier, info = load_classifier(model_dir)
    module = ServingModule(classifier)
    concrete = module.concrete_function()
    export_saved_model(module, tmp_path / "sm")
    export_onnx(module, tmp_path / "m.onnx", base_metadata(classifier, info, DEFAULT_OPSET))
    assert module.serve.get_concrete_function(*module.input_signature) is concrete


def test_onnx_runs_at_other_batch_sizes(export_dir: Path, wdbc_x: np.ndarray) -> None:
    session = ort.InferenceSession(str(export_dir / "model.onnx"))
    whole = session.run(["probability"], {"features": wdbc_x})[0]
    for size in (1, 7, 300):
        parts = [session.run(["probability"], {"features": wdbc_x[i:i + size]})[0] for i in range(0, 569, size)]
        np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_metadata_threshold_is_the_trained_models_not_a_default(other_export_dir: Path) -> None:
    """The other run chose its threshold for FNR 0 on its training rows: the metadata must carry that value."""
    from model.checkpoint import load_classifier

    meta = ort.InferenceSession(str(other_export_dir / "model.onnx")).get_modelmeta().custom_metadata_map
    classifier, info = load_classifier(other_export_dir.parent / "model")
    assert float(meta["threshold"]) == float(classifier.threshold.numpy()) == info["threshold"]
    assert float(meta["threshold"]) != 0.5
    sidecar = json.loads((other_export_dir / "saved_model" / SIDECAR).read_text())
    assert sidecar["threshold"] == float(meta["threshold"])


def test_base_metadata_carries_every_key_the_readme_lists_under_its_name(model_dir: Path) -> None:
    """The keys scorers and users read (README, "Metadata keys"), with the trained model's values."""
    classifier, info = load_classifier(model_dir)
    meta = base_metadata(classifier, info, DEFAULT_OPSET).as_dict()
    assert list(meta) == ["format", "feature_names", "n_features", "feature_aliases", "input_name", "output_names",
                          "threshold", "label_column", "positive_class", "negative_class", "label_meaning",
                          "positive_label", "id_columns", "na_values", "decimal",
                          "metrics", "data_fingerprint_sha256", "training_config", "opset",
                          "versions", "exported_at", "family", "layer_widths", "activation"]
    assert meta["format"] == EXPORT_FORMAT == "logreg-export/3" and meta["feature_names"] == list(FEATURE_NAMES)
    assert (meta["family"], meta["layer_widths"], meta["activation"]) == ("logreg", [30, 1], None)
    assert meta["n_features"] == 30 and meta["input_name"] == "features" and meta["output_names"] == list(OUTPUT_NAMES)
    assert meta["feature_aliases"] == info["feature_aliases"]
    assert meta["feature_aliases"]["radius_mean"] == ["mean radius"]
    assert (meta["label_column"], meta["positive_class"], meta["negative_class"]) == ("diagnosis", "M", "B")
    assert meta["label_meaning"] == {"0": "benign (B)", "1": "malignant (M)"} and meta["positive_label"] == 1
    assert meta["metrics"] == info["metrics"] and meta["threshold"] == info["threshold"]
    assert meta["training_config"] == info["config"] and meta["opset"] == DEFAULT_OPSET
    assert meta["exported_at"].endswith("+00:00")  # UTC, whatever the machine's time zone
    assert (meta["id_columns"], meta["decimal"]) == (["id"], ".") and meta["na_values"] == info["na_values"]
    assert {"NA", "N/A", "NaN", "null", "?"} <= set(meta["na_values"])


def _interface(path: Path) -> list[tuple[str, int, list]]:
    model = onnx.load(str(path))
    return [(v.name, v.type.tensor_type.elem_type, [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim])
            for v in (*model.graph.input, *sorted(model.graph.output, key=lambda o: o.name))]


def test_an_mlp_export_is_the_same_interface_with_its_family_in_the_metadata(export_dir: Path,
                                                                             mlp_export_dir: Path) -> None:
    """What a consumer sees is unchanged: input, outputs (names, types, shapes), signature; the metadata adds the
    family and its shape."""
    assert _interface(mlp_export_dir / "model.onnx") == _interface(export_dir / "model.onnx")
    signatures = [tf.saved_model.load(str(d / "saved_model")).signatures["serving_default"]
                  for d in (export_dir, mlp_export_dir)]
    assert signatures[0].structured_input_signature == signatures[1].structured_input_signature
    assert signatures[0].structured_outputs.keys() == signatures[1].structured_outputs.keys()
    meta = ort.InferenceSession(str(mlp_export_dir / "model.onnx")).get_modelmeta().custom_metadata_map
    sidecar = json.loads((mlp_export_dir / "saved_model" / SIDECAR).read_text())
    for facts in (meta, sidecar):
        assert (facts["format"], facts["family"]) == (EXPORT_FORMAT, "mlp")
    assert (json.loads(meta["layer_widths"]), meta["activation"]) == ([30, 32, 16, 1], "relu")
    assert (sidecar["layer_widths"], sidecar["activation"]) == ([30, 32, 16, 1], "relu")
    assert onnx.load(str(mlp_export_dir / "model.onnx")).doc_string.startswith("Binary classifier (mlp)")


def test_mlp_runtimes_agree_within_1e6_with_identical_labels_on_50k_rows(mlp_export_dir: Path) -> None:
    from benchmarks.datagen import make_frame

    x = np.ascontiguousarray(make_frame(50_000, seed=11).drop("id").to_numpy(), np.float32)
    onnx_out = ort.InferenceSession(str(mlp_export_dir / "model.onnx")).run(["probability", "label"], {"features": x})
    tf_out = tf.saved_model.load(str(mlp_export_dir / "saved_model")).signatures["serving_default"](
        features=tf.constant(x))
    assert np.max(np.abs(onnx_out[0].astype(np.float64) - tf_out["probability"].numpy())) <= 1e-6
    np.testing.assert_array_equal(onnx_out[1], tf_out["label"].numpy())
