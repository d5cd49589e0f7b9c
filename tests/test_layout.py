"""Tests for scoring.io.layout: column matching by name or position, and its errors."""

from __future__ import annotations

import re

import pytest

from model.wdbc import ALIASES, FEATURE_NAMES
from scoring.errors import InputError
from scoring.io.layout import normalize, resolve_layout
from tests.expect import says

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
                                         r"the scorer will not guess\. Pass --rename") as caught:
        resolve_layout(header, NAMES, "f.csv")
    assert str(caught.value).startswith("f.csv, line 1: feature 'radius_mean'")  # where: the header
    assert (caught.value.source, caught.value.line) == ("f.csv", 1)


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
                                         r"Did you mean 'rad_mean' for 'rad_maen'\?") as caught:
        resolve_layout(header, NAMES, "f.csv", rename={"rad_maen": "radius_mean"})
    assert str(caught.value).startswith("f.csv, line 1: --rename names")  # where: the header
    assert (caught.value.source, caught.value.line) == ("f.csv", 1)


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


def error_of(**kwargs) -> str:  # noqa: ANN003
    """The whole message resolve_layout raises for these arguments (header, feature names and source default)."""
    kwargs.setdefault("feature_names", NAMES)
    kwargs.setdefault("source", "f.csv")
    with pytest.raises(InputError) as info:
        resolve_layout(**kwargs)
    return str(info.value)


def test_a_column_two_features_match_through_aliases_is_an_error() -> None:
    header = ["id", "size", *NAMES[2:]]
    says(error_of(first_fields=header, aliases={"radius_mean": ["Size"], "texture_mean": ["size"]}),
         "f.csv, line 1:", "'size'", "'radius_mean', 'texture_mean'", "--rename")


def test_duplicate_columns_are_listed_sorted_and_capped_at_five() -> None:
    dupes = ["f", "e", "d", "c", "b", "a"]
    message = error_of(first_fields=[*NAMES, *dupes, *dupes])
    says(message, "f.csv, line 1:", "duplicate", "'a' in columns 36, 42", "'b' in columns 35, 41",
         "'c' in columns 34, 40", "'d' in columns 33, 39", "'e' in columns 32, 38", "1 more")
    assert "'f'" not in message  # five at most


def test_a_name_repeated_100000_times_gives_a_short_message() -> None:
    """The issue's case: a header repeating one name 100,000 times gave a 689 kB error message."""
    message = error_of(first_fields=[*NAMES, *["x" * 1000] * 100_000])
    assert len(message) < 300
    says(message, "in columns 31, 32, 33, 34, 35", "99995 more")


def test_a_tab_separated_header_read_as_one_field_names_tab_and_the_default_separator() -> None:
    header = "\t".join(["id", *NAMES])
    says(error_of(first_fields=[header]), "f.csv, line 1:", f"{header[:60]!r}", "tab", "--sep tab")


def test_a_column_name_holding_another_separator_is_fine_in_a_header_of_many_fields() -> None:
    layout = resolve_layout(["id;note", *NAMES], NAMES, "f.csv")
    assert layout.feature_index == tuple(range(1, 31)) and layout.names[0] == "id;note"


def test_layout_remembers_its_source_and_separator() -> None:
    layout = resolve_layout(["id", *NAMES], NAMES, "in.csv", separator=";")
    assert (layout.source, layout.separator, layout.has_header) == ("in.csv", ";", True)


def test_headerless_input_may_hold_exactly_the_features_and_says_where_it_is_short() -> None:
    layout = resolve_layout(["1"] * 30, NAMES, "x", has_header=False)
    assert layout.feature_index == tuple(range(30)) and layout.keep_names == []
    says(error_of(first_fields=["1"] * 29, source="x", has_header=False), "x, line 1:", "30 columns", "found 29")


def test_many_missing_features_are_capped_at_five_names() -> None:
    header = ["id", *NAMES[7:]]
    message = error_of(first_fields=header)
    says(message, "f.csv, line 1:", "missing 7", "'radius_mean', 'texture_mean', 'perimeter_mean', 'area_mean', "
         "'smoothness_mean' and 2 more", "--rename")
    assert "compactness_mean" not in message  # five names at most
    five = error_of(first_fields=["id", *NAMES[5:]])
    assert "missing 5 feature columns" in five and "'smoothness_mean'. Pass" in five and "more" not in five


def test_suggestions_take_the_closest_unclaimed_column_for_each_of_the_first_five_missing() -> None:
    # Six features misspelled in the header: hints for the first five, each naming one column.
    header = ["id", *(n.replace("mean", "maen") for n in NAMES[:6]), *NAMES[6:]]
    message = error_of(first_fields=header)
    assert message.endswith(
        "Did you mean 'radius_maen' for 'radius_mean', 'texture_maen' for 'texture_mean', 'perimeter_maen' for "
        "'perimeter_mean', 'area_maen' for 'area_mean', 'smoothness_maen' for 'smoothness_mean'?")
    # 'radius' is like 'radius_mean' (ratio 0.71) but not enough to be suggested (cutoff 0.75).
    assert "Did you mean" not in error_of(first_fields=["id", "radius", *NAMES[1:]])


def test_keep_names_missing_columns_with_a_suggestion_and_drops_repeats() -> None:
    header = ["id", "site", *NAMES]
    says(error_of(first_fields=header, keep=["sitte"]), "f.csv, line 1:", "--keep", "'sitte'", "'site'")
    assert resolve_layout(header, NAMES, "f.csv", keep=["site", "id", "site"]).keep_names == ["site", "id"]


def test_a_kept_column_named_like_an_output_is_refused() -> None:
    header = ["id", "label", *NAMES]
    says(error_of(first_fields=header, keep=["id", "label"]), "f.csv, line 1:", "'label'", "output column", "--keep")


def test_only_the_first_id_column_is_kept_by_default() -> None:
    assert resolve_layout(["Id", *NAMES, "ID"], NAMES, "f.csv").keep_names == ["Id"]


def test_normalize_folds_case_space_and_underscores_to_one_underscore() -> None:
    assert normalize("  Concave  Points__Mean ") == "concave_points_mean"


def test_rename_option_parses_pairs_and_rejects_others() -> None:
    import argparse

    from scoring.io.layout import rename_option

    assert rename_option(" a = b ,c=d=e,") == {"a": "b", "c": "d=e"}
    with pytest.raises(argparse.ArgumentTypeError, match=r"^expected OLD=NEW pairs separated by commas, got 'a=b,c'$"):
        rename_option("a=b,c")


@pytest.mark.parametrize(("text", "expected"), [
    ('{"Radius": "radius_mean"}', {"Radius": "radius_mean"}),
    ('\n  {"Radius": "radius_mean"}\n', {"Radius": "radius_mean"}),  # JSON after blank lines or indentation
    ("\ufeffold,new\nRadius , radius_mean\n\nb,c\n", {"Radius": "radius_mean", "b": "c"}),
    ("from,to\nx,y\n", {"x": "y"}),
    ("x,y\n", {"x": "y"}),
])
def test_rename_file_takes_json_or_a_two_column_csv(tmp_path, text: str, expected: dict) -> None:
    from scoring.io.layout import load_renames

    path = tmp_path / "map"
    path.write_text(text, encoding="utf-8")
    assert load_renames(str(path)) == expected
    assert load_renames(None) == {}


@pytest.mark.parametrize(("text", "problem"), [
    ('{"a": ', "expected a JSON object of old: new names, got "),
    ('{"a": 1}', "expected string names on both sides."),
    ("old,new\na,b\nc\n", r"expected two fields \(old,new\) on every line, see row 2\."),
])
def test_a_bad_rename_file_is_one_error_naming_it(tmp_path, text: str, problem: str) -> None:
    from scoring.errors import ScoringError
    from scoring.io.layout import load_renames

    path = tmp_path / "map"
    path.write_text(text)
    with pytest.raises(ScoringError, match=rf"^--rename-file {re.escape(str(path))}: {problem}"):
        load_renames(str(path))
    with pytest.raises(ScoringError, match=rf"^Cannot read --rename-file {re.escape(str(tmp_path))}/nope: No such file"):
        load_renames(str(tmp_path / "nope"))


def test_missing_keep_columns_are_listed_in_the_order_asked_for() -> None:
    header = ["id", *NAMES]
    assert error_of(first_fields=header, keep=["zone", "id", "batch", "zone"]) == (
        "f.csv, line 1: missing 2 --keep columns: 'zone', 'batch'.")


def test_readers_select_columns_by_the_files_own_names_before_renames() -> None:
    from dataclasses import replace

    layout = resolve_layout(["id", *NAMES], NAMES, "f.parquet")
    assert [layout.read_name(i) for i in range(3)] == ["id", *NAMES[:2]]
    in_file = ("ID", *(f"col{i}" for i in range(len(NAMES))))  # as named in the file, before --rename
    renamed = replace(layout, file_names=in_file)
    assert [renamed.read_name(i) for i in range(3)] == ["ID", "col0", "col1"]
    assert renamed.names == layout.names


def _read(layout, block: bytes):
    """A block as the fast path reads it (scoring.io.parsing): headerless, with the layout's schema and projection."""
    import polars as pl

    return pl.read_csv(block, has_header=False, schema=layout.polars_schema, columns=layout.projection)


def test_the_feature_matrix_is_float32_in_model_order_and_a_kept_feature_is_parsed_from_its_text() -> None:
    import numpy as np

    layout = resolve_layout(["id", "b", "a", "note"], ["a", "b"], "f.csv", keep=["id", "b"])
    frame = _read(layout, b"7,1.5,2.5,x\n8,oops,3.5,y\n")
    x = layout.feature_matrix(frame)
    assert x.dtype == np.float32 and x.flags.c_contiguous
    np.testing.assert_array_equal(x, np.array([[2.5, 1.5], [3.5, np.nan]], np.float32))  # 'oops' -> NaN, no error
    assert layout.kept_columns(frame).to_dicts() == [{"id": "7", "b": "1.5"}, {"id": "8", "b": "oops"}]


def test_a_block_is_doubtful_with_a_value_that_is_not_finite_or_an_empty_last_column() -> None:
    layout = resolve_layout(["id", "b", "a", "note"], ["a", "b"], "f.csv")
    clean = _read(layout, b"7,1.5,2.5,x\n8,0.5,3.5,y\n")
    assert not layout.doubtful(clean, layout.feature_matrix(clean))
    for block in (b"7,1.5,inf,x\n", b"7,1.5,,x\n", b"7,nan,2.5,x\n",  # not finite, or empty
                  b"7,1.5,2.5,x\n8,0.5,3.5\n"):  # a short row: its last column is null
        frame = _read(layout, block)
        assert layout.doubtful(frame, layout.feature_matrix(frame)), block


def test_split_fields_reads_a_header_line_as_csv_with_its_separator_and_says_where_it_cannot() -> None:
    from scoring.io.layout import split_fields

    assert split_fields(b'id,"radius, mean",area\r\n', "f.csv", 1) == ["id", "radius, mean", "area"]
    assert split_fields(b"id;radius mean;area\n", "f.csv", 1, ";") == ["id", "radius mean", "area"]
    assert split_fields("ïd,área\n".encode(), "f.csv", 1) == ["ïd", "área"]
    with pytest.raises(InputError, match=r"^f.csv, line 3: expected UTF-8 text, found byte 0xe1$") as caught:  # á
        split_fields("id,área\n".encode("latin-1"), "f.csv", 3)
    assert (caught.value.source, caught.value.line) == ("f.csv", 3)
    with pytest.raises(InputError) as info:
        split_fields(b"id,radius\rarea\n", "f.csv", 2)
    says(str(info.value), "f.csv, line 2:", "carriage return", "LF or CRLF")


def test_the_models_id_columns_are_passed_through_by_default_else_a_column_named_id() -> None:
    names = ["Customer ID", "id", *NAMES]
    assert resolve_layout(names, NAMES, "f.csv", id_columns=("customer_id",)).keep_names == ["Customer ID"]
    assert resolve_layout(names, NAMES, "f.csv").keep_names == ["id"]
    assert resolve_layout(names, NAMES, "f.csv", id_columns=("account",)).keep_names == ["id"]
    assert resolve_layout(names, NAMES, "f.csv", keep=["id"], id_columns=("customer_id",)).keep_names == ["id"]


def test_a_kept_feature_read_as_text_parses_as_the_layouts_numbers() -> None:
    import polars as pl

    layout = resolve_layout(["id", *NAMES], NAMES, "f.csv", keep=NAMES[:1], na_values=("NA",), decimal=",")
    values, missing = layout.numbers(pl.Series(["66,7", "1.5", " NA ", "", "x"]))
    assert values.to_list()[:2] == pytest.approx([66.7, 1.5]) and values.to_list()[2:] == [None, None, None]
    assert missing.to_list() == [False, False, True, True, False]
