"""Tests for model.data: the bundled copy, the UCI loader and the tutorial's split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model.data import FEATURE_NAMES, UCI_COLUMNS, fingerprint, load_wdbc, split
from model.errors import DataError


@pytest.fixture(scope="module")
def bundled() -> pd.DataFrame:
    return load_wdbc()


def write_uci(frame: pd.DataFrame, path: Path) -> Path:
    frame[list(UCI_COLUMNS)].to_csv(path, header=False, index=False, float_format="%.17g")
    return path


def test_feature_names_are_the_tutorials_with_the_typo_fixed() -> None:
    assert len(FEATURE_NAMES) == 30
    assert FEATURE_NAMES[0] == "radius_mean" and FEATURE_NAMES[-1] == "fractal_dimension_largest"
    assert "concave_points_ste" in FEATURE_NAMES
    assert not any("poinits" in name for name in FEATURE_NAMES)
    assert len(set(FEATURE_NAMES)) == 30


def test_bundled_copy_has_569_rows_with_malignant_as_1(bundled: pd.DataFrame) -> None:
    assert bundled.shape == (569, 3 + 30)
    assert list(bundled.columns[:3]) == ["id", "diagnosis", "label"]
    assert int(bundled["label"].sum()) == 212  # UCI: 212 malignant, 357 benign
    assert (bundled["label"] == (bundled["diagnosis"] == "M")).all()
    # First UCI row (id 842302) is malignant with radius_mean 17.99.
    assert bundled.loc[0, "diagnosis"] == "M" and bundled.loc[0, "radius_mean"] == 17.99


def test_split_is_the_tutorials(bundled: pd.DataFrame) -> None:
    rows = split(bundled)
    assert (len(rows.y_train), len(rows.y_test)) == (427, 142)
    expected_train = bundled.sample(frac=0.75, random_state=1).index.to_numpy()
    np.testing.assert_array_equal(rows.train_index, expected_train)
    assert not set(rows.train_index) & set(rows.test_index)
    assert rows.x_train.dtype == np.float32 and rows.x_train.flags.c_contiguous


def test_uci_file_round_trips_to_the_bundled_rows(bundled: pd.DataFrame, tmp_path: Path) -> None:
    path = write_uci(bundled, tmp_path / "wdbc.data")
    loaded = load_wdbc(path)
    assert fingerprint(loaded) == fingerprint(bundled)
    assert load_wdbc(path.as_uri()).shape == bundled.shape  # a URL (file://) goes through the same reader


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda lines: [l.rsplit(",", 1)[0] for l in lines], r"Expected 32 columns .* got 31"),
        (lambda lines: lines[:4] + [lines[4].replace(",M,", ",X,").replace(",B,", ",X,")] + lines[5:],
         r"diagnosis 'M' or 'B' .* line 5, column 2, got 'X'"),
        (lambda lines: lines[:6] + [",".join(lines[6].split(",")[:4] + ["abc"] + lines[6].split(",")[5:])] + lines[7:],
         r"finite number for 'perimeter_mean' .* line 7, column 5, got 'abc'"),
    ],
    ids=["ragged", "bad-diagnosis", "non-numeric"],
)
def test_malformed_uci_file_names_line_and_column(bundled, tmp_path, mutate, match) -> None:
    lines = write_uci(bundled, tmp_path / "good.data").read_text().splitlines()
    bad = tmp_path / "bad.data"
    bad.write_text("\n".join(mutate(lines)) + "\n")
    with pytest.raises(DataError, match=match):
        load_wdbc(bad)


def test_missing_file_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found.*omit --data to use the bundled copy"):
        load_wdbc(tmp_path / "nope.data")
