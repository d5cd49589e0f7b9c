"""Tests for contract.metadata: the one object that owns every key of the export's metadata."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from contract.errors import ModelError
from contract.metadata import (
    EXPORT_FORMAT,
    SHARED_KEYS,
    Hashes,
    Metadata,
    decode_onnx_props,
    shared_differences,
    sibling_hashes,
)
from tests.expect import says

#: The on-disk keys, in the order format 2 has always written them (a reader in another language may rely on it).
FORMAT_2_KEYS = ["format", "feature_names", "n_features", "feature_aliases", "input_name", "output_names",
                 "threshold", "label_column", "positive_class", "negative_class", "label_meaning", "positive_label",
                 "id_columns", "na_values", "decimal",
                 "metrics", "data_fingerprint_sha256", "training_config", "opset", "versions", "exported_at"]
#: The model family and its shape, added to format 2 when a second family came (issue 23).
FAMILY_KEYS = ["family", "layer_widths", "activation"]


def example() -> Metadata:
    return Metadata(feature_names=["a", "b"], n_features=2, threshold=0.25, label_column="y", positive_class="M",
                    negative_class="B", metrics={"test": {"n": 3}}, versions={"numpy": "2"}, exported_at="t")


def test_checks_on_read() -> None:
    meta = {"format": EXPORT_FORMAT, "feature_names": ["a", "b"], "threshold": "0.5", "label_column": "y"}
    info = Metadata.from_dict(meta, 2, Path("m"))
    assert (info.feature_names, info.threshold, info.label_column) == (["a", "b"], 0.5, "y")
    with pytest.raises(ModelError, match="takes 3 features, but its metadata names 2"):
        Metadata.from_dict(meta, 3, Path("m"))
    with pytest.raises(ModelError, match=r"Expected the threshold in m's metadata to be a number in \[0, 1\], got 'high'"):
        Metadata.from_dict({**meta, "threshold": "high"}, 2, Path("m"))
    with pytest.raises(ModelError, match=r"names the feature\(s\) 'a' more than once"):
        Metadata.from_dict({**meta, "feature_names": ["a", "b", "a"]}, 3, Path("m"))
    with pytest.raises(ModelError, match=r"format 'logreg-export/3' .* got 'wdbc-logreg-export/1'"):
        Metadata.from_dict({**meta, "format": "wdbc-logreg-export/1"}, 2, Path("m"))
    with pytest.raises(ModelError, match="JSON object, got list"):
        Metadata.from_dict([], None, Path("m"))


def test_on_disk_keys_and_order_are_format_2s() -> None:
    keys = [*FORMAT_2_KEYS, *FAMILY_KEYS]  # a later key comes after them: an older reader's order is kept
    assert list(example().as_dict()) == keys
    assert list(example().naming(onnx_sha256="h").as_dict()) == [*keys, "onnx_sha256"]
    assert list(example().naming(saved_model_sha256="h").as_dict()) == [*keys, "saved_model_sha256"]


def test_round_trips_through_json_and_onnx_props() -> None:
    meta = example().naming(saved_model_sha256="abc")
    assert Metadata.from_dict(json.loads(meta.as_json()), 2, Path("m")) == meta
    props = meta.as_onnx_props()
    assert all(isinstance(v, str) for v in props.values()) and props["label_column"] == "y"
    assert props["threshold"] == "0.25" and props["feature_names"] == '["a", "b"]'
    assert Metadata.from_dict(decode_onnx_props(props), 2, Path("m")) == meta


def test_a_newer_writers_extra_keys_are_ignored() -> None:
    raw = {**example().as_dict(), "from_the_future": 1}
    assert Metadata.from_dict(raw, 2, Path("m")) == example()


def test_siblings_must_agree_on_the_shared_keys_only() -> None:
    assert SHARED_KEYS == ("format", "feature_names", "threshold", "label_column", "positive_class",
                           "negative_class", "na_values", "decimal", "data_fingerprint_sha256", "exported_at",
                           *FAMILY_KEYS)
    onnx, saved = example().naming(saved_model_sha256="s").as_dict(), example().naming(onnx_sha256="o").as_dict()
    assert shared_differences(onnx, saved) == []
    assert sibling_hashes(onnx, saved) == Hashes(saved_model_sha256="s", onnx_sha256="o")
    assert shared_differences({**onnx, "threshold": 0.5, "metrics": {}}, saved) == ["threshold"]


def test_decode_keeps_plain_strings() -> None:
    assert decode_onnx_props({"a": "plain text", "b": "[1]", "c": "0.5"}) == {"a": "plain text", "b": [1], "c": 0.5}


@pytest.mark.parametrize("names", [[], "radius_mean", [1, 2], None, {"a": 1}])
def test_feature_names_must_be_a_list_of_column_names(names: object) -> None:
    meta = {"format": EXPORT_FORMAT, "feature_names": names, "threshold": 0.5}
    with pytest.raises(ModelError) as info:
        Metadata.from_dict(meta, None, Path("m"))
    says(str(info.value), "'feature_names'", "m's metadata", repr(names))


def test_repeated_feature_names_are_all_named() -> None:
    meta = {"format": EXPORT_FORMAT, "feature_names": ["a", "b", "a", "b", "c"], "threshold": 0.5}
    with pytest.raises(ModelError) as info:
        Metadata.from_dict(meta, None, Path("m"))
    says(str(info.value), "m", "'a', 'b'", "more than once")


def test_an_export_from_before_the_reading_keys_reads_as_the_scorer_did_then() -> None:
    """Without na_values and decimal (older exports) only an empty field is missing and '.' is the decimal mark."""
    raw = {k: v for k, v in example().as_dict().items() if k not in ("na_values", "decimal", "id_columns")}
    meta = Metadata.from_dict(raw, 2, Path("m"))
    assert (meta.na_values, meta.decimal, meta.id_columns) == ([], ".", [])


@pytest.mark.parametrize(("key", "value"), [("na_values", "NA"), ("na_values", [1]), ("decimal", ";"),
                                            ("id_columns", "id")])
def test_reading_keys_in_a_form_the_scorer_cannot_apply_are_refused(key: str, value: object) -> None:
    with pytest.raises(ModelError, match=rf"Expected '{key}' in m's metadata to be .*, got {re.escape(repr(value))}"):
        Metadata.from_dict({**example().as_dict(), key: value}, 2, Path("m"))


def test_a_threshold_that_is_no_number_is_shown_and_aliases_that_are_no_mapping_are_ignored() -> None:
    meta = {"format": EXPORT_FORMAT, "feature_names": ["a"], "threshold": "high"}
    with pytest.raises(ModelError) as info:
        Metadata.from_dict(meta, 1, Path("m"))
    says(str(info.value), "threshold", "m's metadata", "'high'")
    assert Metadata.from_dict({**meta, "threshold": 0.5, "feature_aliases": [["a", "b"]]}, 1, Path("m")).feature_aliases == {}


def test_at_most_five_repeated_names_are_listed() -> None:
    names = [*"abcdef", *"abcdef"]
    with pytest.raises(ModelError) as info:
        Metadata.from_dict({"format": EXPORT_FORMAT, "feature_names": names, "threshold": 0.5}, None, Path("m"))
    says(str(info.value), "'a', 'b', 'c', 'd', 'e'")
    assert "'f'" not in str(info.value)


def test_an_export_from_before_families_reads_as_logistic_regression() -> None:
    old = {k: v for k, v in example().as_dict().items() if k not in FAMILY_KEYS}
    meta = Metadata.from_dict(old, 2, Path("m"))
    assert (meta.family, meta.layer_widths, meta.activation) == ("logreg", [2, 1], None)
    # Only an export without a family gets the legacy shape: one that names its family says its own shape, or none.
    unshaped = {k: v for k, v in example().as_dict().items() if k != "layer_widths"}
    assert "family" in unshaped and Metadata.from_dict(unshaped, 2, Path("m")).layer_widths is None


def test_the_family_and_its_shape_round_trip_and_a_damaged_shape_is_refused() -> None:
    mlp = Metadata(feature_names=["a", "b"], threshold=0.5, family="mlp", layer_widths=[2, 32, 16, 1],
                   activation="tanh")
    assert Metadata.from_dict(decode_onnx_props(mlp.as_onnx_props()), 2, Path("m")) == mlp
    for key, bad in (("layer_widths", [2, 0, 1]), ("layer_widths", "2-32-1"), ("family", 3), ("activation", [1])):
        with pytest.raises(ModelError, match=rf"Expected '{key}' in m's metadata .* got {re.escape(repr(bad))}"):
            Metadata.from_dict({**mlp.as_dict(), key: bad}, 2, Path("m"))


@pytest.mark.parametrize(("threshold", "shown"), [
    (float("nan"), "nan"), ("NaN", "'NaN'"), (2.0, "2.0"), (-0.1, "-0.1"), (float("inf"), "inf"), (True, "True"),
    (None, "None"), ([0.5], r"\[0.5\]"), (10**400, r"1000000000000000000000000000000000000\.\.\."),
])
def test_a_threshold_must_be_a_finite_number_in_0_1(threshold: object, shown: str) -> None:
    """The issue's cases: NaN passed every check (every comparison with it is false) and 2.0 labelled no row
    positive; a 400-digit number was an OverflowError traceback."""
    meta = {"format": EXPORT_FORMAT, "feature_names": ["a"], "threshold": threshold}
    with pytest.raises(ModelError, match=rf"threshold in m's metadata .*\[0, 1\].* got {shown}\."):
        Metadata.from_dict(meta, 1, Path("m"))
    for fine in (0.0, 1.0, "0.25"):
        assert 0 <= Metadata.from_dict({**meta, "threshold": fine}, 1, Path("m")).threshold <= 1


def test_a_hundred_thousand_feature_names_are_checked_in_linear_time() -> None:
    import time

    names = [f"f{i}" for i in range(100_000)]
    started = time.perf_counter()
    with pytest.raises(ModelError, match=r"names the feature\(s\) 'f0', 'f1', 'f10', 'f100', 'f1000' and 99995 more more "
                                         r"than once \(100000 in all\)"):
        Metadata.from_dict({"format": EXPORT_FORMAT, "feature_names": names * 2, "threshold": 0.5}, None, Path("m"))
    assert time.perf_counter() - started < 5  # names.count per name took minutes


def test_the_format_is_read_from_raw_metadata_of_any_shape() -> None:
    from contract.metadata import EXPORT_FORMAT, format_of

    assert format_of(example().as_dict()) == EXPORT_FORMAT
    assert format_of({"format": "logreg-export/2"}) == "logreg-export/2"
    assert format_of({"feature_names": ["a"]}) is None
    for raw in (None, "logreg-export/3", ["format"], 3):  # a damaged sidecar: no mapping to read it from
        assert format_of(raw) is None
