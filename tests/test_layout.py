"""Tests for scoring.layout: column matching by name or position, and its errors."""

from __future__ import annotations

import pytest

from model.data import FEATURE_NAMES
from scoring.errors import InputError
from scoring.layout import resolve_layout

NAMES = list(FEATURE_NAMES)


def test_layout_matches_columns_by_name_in_any_order() -> None:
    header = ["note", *reversed(NAMES), "id"]
    layout = resolve_layout(header, NAMES, "f.csv")
    assert [layout.names[i] for i in layout.feature_index] == NAMES
    assert layout.keep_names == ["id"]
    assert layout.output_names == ["id", "probability", "label"]


def test_missing_features_are_listed_with_close_matches() -> None:
    header = ["id", *NAMES]
    header[header.index("radius_mean")] = "radius mean"
    header.remove("texture_mean")
    with pytest.raises(InputError, match=r"f.csv, line 1: missing 2 feature columns the model needs: "
                                         r"'radius_mean', 'texture_mean'\. Did you mean 'radius mean' for 'radius_mean'\?"):
        resolve_layout(header, NAMES, "f.csv")


def test_duplicate_columns_are_rejected() -> None:
    with pytest.raises(InputError, match=r"duplicate column names: 'radius_mean' in columns 2, 32"):
        resolve_layout(["id", *NAMES, "radius_mean"], NAMES, "f.csv")


def test_headerless_layout_takes_the_last_columns_as_features() -> None:
    layout = resolve_layout(["842302", "M", *["1"] * 30], NAMES, "wdbc.data", has_header=False)
    assert layout.feature_index == tuple(range(2, 32))
    assert layout.keep_names == ["column_1", "column_2"]
    with pytest.raises(InputError, match="expected at least 30 columns .* found 5"):
        resolve_layout(["1"] * 5, NAMES, "x", has_header=False)
