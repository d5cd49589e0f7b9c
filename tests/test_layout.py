"""Tests for scoring.layout: column matching by name or position, and its errors."""

from __future__ import annotations

import pytest

from model.wdbc import ALIASES, FEATURE_NAMES
from scoring.errors import InputError
from scoring.layout import normalize, resolve_layout

NAMES = list(FEATURE_NAMES)


def test_layout_matches_columns_by_name_in_any_order() -> None:
    header = ["note", *reversed(NAMES), "id"]
    layout = resolve_layout(header, NAMES, "f.csv")
    assert [layout.names[i] for i in layout.feature_index] == NAMES
    assert layout.keep_names == ["id"]
    assert layout.output_names == ["id", "probability", "label"]


def test_missing_features_are_listed_with_close_matches() -> None:
    header = ["id", *NAMES]
    header[header.index("radius_mean")] = "radius_maen"
    header.remove("texture_mean")
    with pytest.raises(InputError, match=r"f.csv, line 1: missing 2 feature columns the model needs: "
                                         r"'radius_mean', 'texture_mean'\. Did you mean 'radius_maen' for 'radius_mean'\?"):
        resolve_layout(header, NAMES, "f.csv")


@pytest.mark.parametrize("spelling", ["Radius Mean", " radius_mean ", "RADIUS_MEAN", "radius  mean", "Radius_Mean"])
def test_names_match_up_to_case_spaces_and_underscores(spelling: str) -> None:
    header = ["id", *NAMES]
    header[header.index("radius_mean")] = spelling
    layout = resolve_layout(header, NAMES, "f.csv")
    assert layout.names[layout.feature_index[0]] == spelling.strip()


def test_two_candidates_are_an_error_naming_both() -> None:
    header = [*NAMES[1:], "Radius Mean", "radius mean"]
    with pytest.raises(InputError, match=r"feature 'radius_mean' matches 2 columns: 'Radius Mean', 'radius mean'; "
                                         r"the scorer will not guess\. Pass --rename"):
        resolve_layout(header, NAMES, "f.csv")


def test_an_exact_name_wins_over_near_spellings() -> None:
    header = ["Radius Mean", *NAMES]
    layout = resolve_layout(header, NAMES, "f.csv")
    assert layout.feature_index[0] == 1  # the exact 'radius_mean', not 'Radius Mean'


def test_aliases_match_the_widely_shared_wdbc_layouts() -> None:
    kaggle = ["id", "diagnosis", *(ALIASES[n][0] if n in ALIASES and "_" in ALIASES[n][0] else n for n in NAMES), ""]
    sklearn = [ALIASES[n][-1] for n in reversed(NAMES)]
    for header in (kaggle, sklearn):
        layout = resolve_layout(header, NAMES, "f.csv", aliases=ALIASES)
        assert [normalize(layout.names[i]) for i in layout.feature_index] == \
            [normalize(n if n in header else next(a for a in ALIASES[n] if a in header)) for n in NAMES]
    assert "radius_se" in kaggle and "worst radius" in sklearn
    with pytest.raises(InputError, match="missing 30 feature columns"):
        resolve_layout(sklearn, NAMES, "f.csv")  # without the model's aliases, nothing matches


def test_rename_maps_other_names_and_refuses_unknown_ones() -> None:
    header = ["id", "rad_mean", *NAMES[1:]]
    layout = resolve_layout(header, NAMES, "f.csv", rename={"rad_mean": "radius_mean"})
    assert layout.feature_index[0] == 1 and layout.names[1] == "radius_mean"
    with pytest.raises(InputError, match=r"--rename names 'rad_maen', which the header does not have\. "
                                         r"Did you mean 'rad_mean' for 'rad_maen'\?"):
        resolve_layout(header, NAMES, "f.csv", rename={"rad_maen": "radius_mean"})


def test_a_header_read_with_the_wrong_separator_says_so() -> None:
    with pytest.raises(InputError, match=r"the header is one field, 'id;radius_mean;.*', which contains ';'.*--sep ';'"):
        resolve_layout([";".join(["id", *NAMES])], NAMES, "f.csv", separator=",")


def test_trailing_unnamed_columns_are_optional_and_never_kept() -> None:
    layout = resolve_layout(["id", *NAMES, "", ""], NAMES, "f.csv", keep_all=True)
    assert layout.n_columns == 33 and layout.n_required == 31
    assert layout.keep_names == ["id", *NAMES]


def test_id_is_kept_by_default_whatever_its_case() -> None:
    assert resolve_layout(["ID", *NAMES], NAMES, "f.csv").keep_names == ["ID"]
    assert resolve_layout(NAMES, NAMES, "f.csv").keep_names == []


def test_duplicate_columns_are_rejected() -> None:
    with pytest.raises(InputError, match=r"duplicate column names: 'radius_mean' in columns 2, 32"):
        resolve_layout(["id", *NAMES, "radius_mean"], NAMES, "f.csv")


def test_headerless_layout_takes_the_last_columns_as_features() -> None:
    layout = resolve_layout(["842302", "M", *["1"] * 30], NAMES, "wdbc.data", has_header=False)
    assert layout.feature_index == tuple(range(2, 32))
    assert layout.keep_names == ["column_1", "column_2"]
    with pytest.raises(InputError, match="expected at least 30 columns .* found 5"):
        resolve_layout(["1"] * 5, NAMES, "x", has_header=False)
