"""Tests for model.wdbc: the default dataset's names, aliases and bundled copy."""

from __future__ import annotations

from model.wdbc import ALIASES, FEATURE_NAMES, load_bundled, looks_like_uci


def test_feature_names_are_the_tutorials_with_the_typo_fixed() -> None:
    assert len(FEATURE_NAMES) == 30
    assert FEATURE_NAMES[0] == "radius_mean" and FEATURE_NAMES[-1] == "fractal_dimension_largest"
    assert "concave_points_ste" in FEATURE_NAMES
    assert not any("poinits" in name for name in FEATURE_NAMES)
    assert len(set(FEATURE_NAMES)) == 30


def test_aliases_are_the_kaggle_and_sklearn_names() -> None:
    from sklearn.datasets import load_breast_cancer

    sklearn_names = list(load_breast_cancer().feature_names)
    # scikit-learn orders its columns as the tutorial does, so the i-th alias is the i-th name.
    assert [ALIASES[n][-1] for n in FEATURE_NAMES] == sklearn_names
    assert ALIASES["radius_ste"][0] == "radius_se" and ALIASES["concave_points_largest"][0] == "concave points_worst"
    assert ALIASES["concave_points_mean"][0] == "concave points_mean"
    every = [a for names in ALIASES.values() for a in names]
    assert len(every) == len(set(every)) and not set(every) & set(FEATURE_NAMES)


def test_bundled_copy_has_569_rows_with_m_for_malignant() -> None:
    frame = load_bundled()
    assert frame.shape == (569, 2 + 30)
    assert frame.columns[:2] == ["id", "diagnosis"]
    assert (frame["diagnosis"] == "M").sum() == 212  # UCI: 212 malignant, 357 benign
    # First UCI row (id 842302) is malignant with radius_mean 17.99.
    assert frame["diagnosis"][0] == "M" and frame["radius_mean"][0] == 17.99
    assert frame["id"].to_list() == list(range(1, 570))


def test_uci_lines_are_recognized() -> None:
    assert looks_like_uci(["842302", "M", *["1.5"] * 30])
    assert not looks_like_uci(["id", "diagnosis", *FEATURE_NAMES])
    assert not looks_like_uci(["842302", "X", *["1.5"] * 30])
    assert not looks_like_uci(["842302", "M", "1.5", "x"])
