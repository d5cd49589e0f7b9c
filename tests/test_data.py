"""Tests for model.data: label and feature choice on any table, every refusal with its place, the split."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from model.data import DataSpec, fingerprint, load_dataset, separate_test, split
from model.errors import DataError
from model.tables import read_table
from model.wdbc import FEATURE_NAMES, load_bundled
from tests.expect import says


@pytest.fixture(scope="module")
def bundled():
    return load_dataset()


def write(tmp_path: Path, frame: pl.DataFrame | str, name: str = "t.csv") -> str:
    path = tmp_path / name
    if isinstance(frame, str):
        path.write_text(frame)
    elif name.endswith(".parquet"):
        frame.write_parquet(path)
    else:
        frame.write_csv(path)
    return str(path)


def table(rows: int = 40, seed: int = 0) -> pl.DataFrame:
    """A small table with a string label, an id, a text column and two numeric features (one integer)."""
    rng = np.random.default_rng(seed)
    return pl.DataFrame({
        "ID": [f"p{i}" for i in range(rows)],
        "städte name": rng.choice(["Köln", "Bonn", "Ulm"], rows),
        "Blood Pressure": np.round(rng.normal(120, 15, rows), 1),
        "age": rng.integers(20, 80, rows),
        "outcome": np.where(np.arange(rows) % 3 == 0, "Yes", "No"),
    })


# --- the default and WDBC files ---------------------------------------------------------------


def test_default_is_the_bundled_wdbc_copy(bundled) -> None:
    assert bundled.x.shape == (569, 30) and bundled.x.dtype == np.float32 and bundled.x.flags.c_contiguous
    assert bundled.feature_names == FEATURE_NAMES
    assert int(bundled.y.sum()) == 212
    assert (bundled.labels.column, bundled.labels.positive, bundled.labels.negative) == ("diagnosis", "M", "B")
    assert bundled.labels.meaning == {"0": "benign (B)", "1": "malignant (M)"}
    assert bundled.aliases["radius_ste"] == ["radius_se", "radius error"]


def test_the_projects_own_wdbc_csv_trains_on_identical_rows(bundled, tmp_path: Path) -> None:
    path = write(tmp_path, load_bundled())
    with pytest.raises(DataError, match=r"which column is the label\? Pass --label COLUMN\. Columns with two values: "
                                        r"'diagnosis'"):
        load_dataset(DataSpec(path))
    with pytest.raises(DataError, match=r"label column 'diagnosis': found the values 'B', 'M'; pass --positive VALUE"):
        load_dataset(DataSpec(path, label="diagnosis"))
    data = load_dataset(DataSpec(path, label="diagnosis", positive="M"))
    assert fingerprint(data) == fingerprint(bundled) and data.feature_names == FEATURE_NAMES


def test_uci_file_round_trips_to_the_bundled_rows(bundled, tmp_path: Path) -> None:
    path = write(tmp_path, load_bundled().write_csv(include_header=False), "wdbc.data")
    assert fingerprint(load_dataset(DataSpec(path))) == fingerprint(bundled)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda lines: [line.rsplit(",", 1)[0] for line in lines], r"expected 32 fields a line .* got 31"),
        (lambda lines: lines[:4] + [lines[4].replace(",M,", ",X,").replace(",B,", ",X,")] + lines[5:],
         r"expected exactly two classes, found 3: 'B' \(357 rows, first at line 20\), 'M' \(211 rows, first at line 1\),"
         r" 'X' \(1 row, first at line 5\)\. Only binary classification is supported"),
        (lambda lines: lines[:6] + [",".join(lines[6].split(",")[:4] + ["abc"] + lines[6].split(",")[5:])] + lines[7:],
         r"wdbc.data, line 7, column 5 \('perimeter_mean'\): expected a number, got 'abc'\. .* --exclude perimeter_mean"),
    ],
    ids=["ragged", "bad-diagnosis", "non-numeric"],
)
def test_malformed_uci_file_names_line_and_column(tmp_path: Path, mutate, match: str) -> None:
    lines = load_bundled().write_csv(include_header=False).splitlines()
    path = write(tmp_path, "\n".join(mutate(lines)) + "\n", "wdbc.data")
    with pytest.raises(DataError, match=match):
        load_dataset(DataSpec(path))


# --- labels -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("values", "positive"), [
    ([0, 1], 1), ([0.0, 1.0], 1.0), (["false", "true"], "true"), (["FALSE", "TRUE"], "TRUE"), ([False, True], True),
])
def test_obvious_labels_need_no_positive(tmp_path: Path, values: list, positive) -> None:
    frame = table(12).with_columns(pl.Series("outcome", [values[i % 3 == 0] for i in range(12)]))
    data = load_dataset(DataSpec(write(tmp_path, frame, "t.parquet"), label="outcome"))
    assert data.labels.positive == positive
    np.testing.assert_array_equal(data.y, (np.arange(12) % 3 == 0).astype(np.float32))


@pytest.mark.parametrize("classes", [5, 6, 7])
def test_more_than_five_classes_list_the_five_largest_then_how_many_more(tmp_path: Path, classes: int) -> None:
    counts = dict(list({"a": 7, "b": 6, "c": 5, "d": 4, "e": 3, "f": 2, "g": 1}.items())[:classes])
    labels = [v for v, n in counts.items() for _ in range(n)]
    frame = table(len(labels)).with_columns(pl.Series("outcome", labels))
    first = {v: 2 + labels.index(v) for v in counts}
    listed = ", ".join(f"'{v}' ({n} rows, first at line {first[v]})" for v, n in list(counts.items())[:5])
    more = f" and {classes - 5} more" if classes > 5 else ""
    with pytest.raises(DataError, match=rf"found {classes}: {re.escape(listed)}{more}\. Only binary "
                                        r"classification is "
                                        r"supported\.$"):
        load_dataset(DataSpec(write(tmp_path, frame), label="outcome"))


def test_a_table_of_its_own_gets_no_wdbc_meaning_even_with_m_and_b_labels(tmp_path: Path) -> None:
    frame = table(12).with_columns(pl.Series("outcome", ["M", "B"] * 6))
    data = load_dataset(DataSpec(write(tmp_path, frame), label="outcome", positive="M"))
    assert data.labels.meaning == {"0": "B", "1": "M"} and data.y.dtype == np.float32
    assert load_dataset().labels.meaning == {"0": "benign (B)", "1": "malignant (M)"}


def test_a_boolean_label_column_takes_positive_as_it_is_written_in_lower_case(tmp_path: Path) -> None:
    frame = table(12).with_columns(pl.Series("outcome", [False, True, True] * 4))
    data = load_dataset(DataSpec(write(tmp_path, frame, "t.parquet"), label="outcome", positive="false"))
    assert data.labels.positive is False and data.y.tolist() == [1, 0, 0] * 4


def test_other_labels_need_positive_which_must_be_one_of_them(tmp_path: Path) -> None:
    path = write(tmp_path, table())
    with pytest.raises(DataError) as info:
        load_dataset(DataSpec(path, label="outcome"))
    says(str(info.value), "label column 'outcome'", "'No', 'Yes'", "--positive VALUE")
    with pytest.raises(DataError, match=r"--positive 'yes' is not one of its values 'No', 'Yes'"):
        load_dataset(DataSpec(path, label="outcome", positive="yes"))
    data = load_dataset(DataSpec(path, label="outcome", positive="No"))  # either value may be class 1
    assert (data.labels.positive, data.labels.negative) == ("No", "Yes")
    assert int(data.y.sum()) == 26 and data.labels.meaning == {"0": "Yes", "1": "No"}


def test_more_than_two_classes_are_listed_with_counts(tmp_path: Path) -> None:
    frame = table(10).with_columns(pl.Series("outcome", ["a"] * 5 + ["b"] * 3 + ["c"] * 2))
    with pytest.raises(DataError, match=r"expected exactly two classes, found 3: 'a' \(5 rows, first at line 2\), "
                                        r"'b' \(3 rows, first at line 7\), 'c' \(2 rows, first at line 10\)\. "
                                        r"Only binary classification"):
        load_dataset(DataSpec(write(tmp_path, frame), label="outcome"))
    one = table(4).with_columns(pl.lit("a").alias("outcome"))
    with pytest.raises(DataError, match=r"found 1: 'a' \(4 rows"):
        load_dataset(DataSpec(write(tmp_path, one), label="outcome"))


def test_unknown_label_column_suggests_a_close_one(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no label column 'outcom'\. Did you mean 'outcome' for 'outcom'\?"):
        load_dataset(DataSpec(write(tmp_path, table()), label="outcom"))


# --- features ---------------------------------------------------------------------------------


def test_features_are_the_numeric_columns_but_label_and_id(tmp_path: Path) -> None:
    data = load_dataset(DataSpec(write(tmp_path, table()), label="outcome", positive="Yes"))
    assert data.feature_names == ("Blood Pressure", "age")  # names kept exactly, in table order
    assert data.notes["skipped_non_numeric_columns"] == ["städte name"]
    frame = table()
    np.testing.assert_array_equal(data.x, frame.select("Blood Pressure", "age").to_numpy().astype(np.float32))


def test_features_and_exclude_choose_exactly(tmp_path: Path) -> None:
    path = write(tmp_path, table())
    chosen = load_dataset(DataSpec(path, label="outcome", positive="Yes", features=("age", "Blood Pressure")))
    assert chosen.feature_names == ("age", "Blood Pressure")
    excluded = load_dataset(DataSpec(path, label="outcome", positive="Yes", exclude=("age",)))
    assert excluded.feature_names == ("Blood Pressure",)
    with pytest.raises(DataError, match=r"no columns 'Age'\. Did you mean 'age' for 'Age'\?"):
        load_dataset(DataSpec(path, label="outcome", positive="Yes", features=("Age",)))
    with pytest.raises(DataError, match=r"the label column 'outcome' cannot also be a feature; leave it out of "
                                        r"--features\.$"):
        load_dataset(DataSpec(path, label="outcome", positive="Yes", features=("age", "outcome")))
    with pytest.raises(DataError, match=r"line 2, column 2 \('städte name'\): expected a number, got 'Ulm' .*Fix the "
                                        r"value, or leave the column out with --exclude 'städte name'\."):
        load_dataset(DataSpec(path, label="outcome", positive="Yes", features=("städte name",)))


def test_every_misspelled_column_of_the_first_five_gets_its_suggestion(tmp_path: Path) -> None:
    names = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
    path = write(tmp_path, ",".join([*names, "y"]) + "\n" + ",".join(["1"] * 6) + ",0\n" + ",".join(["2"] * 6) + ",1\n")
    typos = ("alpah", "bravoo", "charlei", "detla", "ecko", "foxtrott")
    hints = ", ".join(f"'{n}' for '{t}'" for n, t in list(zip(names, typos))[:5])
    with pytest.raises(DataError, match=rf"no columns {re.escape(', '.join(map(repr, typos[:5])))} and 1 more\. Did you "
                                        rf"mean {re.escape(hints)}\?$"):
        load_dataset(DataSpec(path, label="y", features=typos))


def test_without_label_and_without_a_two_valued_column_the_message_just_asks_for_label(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"t\.csv: which column is the label\? Pass --label COLUMN\.$"):
        load_dataset(DataSpec(write(tmp_path, "a,b\n1,4\n2,5\n3,6\n")))


def test_only_an_unnamed_empty_column_is_ignored(tmp_path: Path) -> None:
    """What a trailing separator makes is left out silently; a named empty column is reported as skipped (it holds
    no numbers), and an unnamed one with values is a feature."""
    data = load_dataset(DataSpec(write(tmp_path, "a,,y\n1,5,0\n2,6,1\n3,7,0\n"), label="y"))
    assert data.feature_names == ("a", "")
    data = load_dataset(DataSpec(write(tmp_path, "a,b,y,\n1,,0,\n2,,1,\n3,,0,\n"), label="y"))
    assert data.feature_names == ("a",) and data.notes["skipped_non_numeric_columns"] == ["b"]


def test_boolean_and_numeric_text_features_are_numbers_and_other_types_are_refused(tmp_path: Path) -> None:
    import datetime

    frame = pl.DataFrame({"flag": [True, False, True, False], "text": ["1.5", " 2", "3", "4.25"], "y": [0, 1, 0, 1]})
    data = load_dataset(DataSpec(write(tmp_path, frame, "t.parquet"), label="y"))
    assert data.feature_names == ("flag", "text")
    assert data.x.tolist() == [[1, 1.5], [0, 2], [1, 3], [0, 4.25]]
    dated = frame.with_columns(pl.Series("when", [datetime.date(2026, 1, d) for d in range(1, 5)]))
    with pytest.raises(DataError, match=r"t\.parquet: column 'when' has type Date, expected numbers\. Leave it out "
                                        r"with --exclude when\.$"):
        load_dataset(DataSpec(write(tmp_path, dated, "t.parquet"), label="y", features=("flag", "when")))


def test_a_table_with_only_its_label_says_to_pass_features(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"t\.csv: no numeric feature columns besides the label; pass --features\.$"):
        load_dataset(DataSpec(write(tmp_path, "name,y\nann,0\nbob,1\n"), label="y"))


def test_sep_and_format_options_reach_the_reader(tmp_path: Path) -> None:
    # Commas in the names would make the sniffer split at them: --sep says ';'.
    path = write(tmp_path, "size, mm;weight, g;y\n1;2;0\n2;3;1\n3;4;0\n")
    data = load_dataset(DataSpec(path, label="y", sep=";"))
    assert data.feature_names == ("size, mm", "weight, g") and data.x.tolist() == [[1, 2], [2, 3], [3, 4]]
    odd = tmp_path / "table.data"  # Parquet under a name that says nothing
    pl.read_csv(path, separator=";").write_parquet(odd)
    assert load_dataset(DataSpec(str(odd), label="y", fmt="parquet")).x.tolist() == data.x.tolist()


def test_an_unknown_missing_policy_is_refused_with_the_choices(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"^--missing must be one of \['error', 'drop'\], got 'fill'\.$"):
        load_dataset(DataSpec(write(tmp_path, "a,y\n1,0\n2,1\n"), label="y", missing="fill"))


def test_a_dataset_names_its_source_and_how_many_rows_were_read(bundled, tmp_path: Path) -> None:
    assert bundled.source == "sklearn.datasets.load_breast_cancer" and bundled.notes["rows_read"] == 569
    path = write(tmp_path, "a,y\n1,0\n2,1\n3,0\n")
    data = load_dataset(DataSpec(path, label="y"))
    assert data.source == path and data.notes["rows_read"] == 3


def test_id_column_option_and_default(tmp_path: Path) -> None:
    frame = table().with_columns(pl.Series("ID", range(40)))  # a numeric id is still not a feature
    path = write(tmp_path, frame)
    assert "ID" not in load_dataset(DataSpec(path, label="outcome", positive="Yes")).feature_names
    data = load_dataset(DataSpec(path, label="outcome", positive="Yes", id_column="age"))
    assert data.feature_names == ("ID", "Blood Pressure")


def test_a_stray_text_value_is_located_even_after_a_quoted_newline(tmp_path: Path) -> None:
    text = 'id,note,x,y\n1,"two\nlines",1.5,0\n2,ok,2.5,1\n3,ok,abc,0\n4,ok,3.5,1\n'
    with pytest.raises(DataError, match=r"t.csv, line 5, column 3 \('x'\): expected a number, got 'abc'\. If 'abc' "
                                        r"marks a missing value, .*--missing drop; .*--exclude x\."):
        load_dataset(DataSpec(write(tmp_path, text), label="y"))


def test_a_stray_value_after_many_rows_is_found(tmp_path: Path) -> None:
    rows = "".join(f"{i},{i % 2}\n" for i in range(12_000))
    with pytest.raises(DataError, match=r"line 12002, column 1 \('x'\): expected a number, got 'oops'"):
        load_dataset(DataSpec(write(tmp_path, "x,y\n" + rows + "oops,1\n"), label="y"))


def test_infinite_values_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"line 3, column 1 \('x'\): expected a finite number, got inf"):
        load_dataset(DataSpec(write(tmp_path, "x,y\n1,0\ninf,1\n2,1\n"), label="y"))


def test_missing_values_are_counted_per_column_or_dropped(tmp_path: Path) -> None:
    text = "a,b,y\n1,2,0\n,3,1\n4,,0\n5,,1\n6,7,\n8,9,1\n10,11,0\n"
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=r"missing values in 3 columns: 'b' 2 rows \(first at line 4\), 'a' 1 row "
                                        r"\(first at line 3\), 'y' 1 row \(first at line 6\)\. Pass --missing drop"):
        load_dataset(DataSpec(path, label="y"))
    data = load_dataset(DataSpec(path, label="y", missing="drop"))
    assert data.x.tolist() == [[1, 2], [8, 9], [10, 11]] and data.y.tolist() == [0, 1, 0]
    assert data.notes["rows_dropped_missing"] == {"rows": 4, "per_column": {"a": 1, "b": 2, "y": 1}}


@pytest.mark.parametrize("columns", [5, 6, 7])
def test_missing_values_in_many_columns_name_the_five_with_most_then_how_many_more(tmp_path: Path,
                                                                                   columns: int) -> None:
    # Column fK is empty in its first K + 1 rows (lines 2 to K + 2); rows 9 and 10 are complete.
    header = ",".join(f"f{k}" for k in range(1, columns + 1)) + ",y"
    lines = [",".join("" if row <= k else str(row + k) for k in range(1, columns + 1)) + f",{row % 2}"
             for row in range(10)]
    path = write(tmp_path, "\n".join([header, *lines]) + "\n")
    listed = ", ".join(f"'f{k}' {k + 1} rows (first at line 2)" for k in range(columns, columns - 5, -1))
    more = f" and {columns - 5} more columns" if columns > 5 else ""
    with pytest.raises(DataError) as info:
        load_dataset(DataSpec(path, label="y"))
    says(str(info.value), "t.csv:", f"missing values in {columns} columns: {listed}{more}.", "--missing drop")
    assert f"'f{columns - 5}'" not in str(info.value)  # five columns at most
    one = write(tmp_path, "a,y\n1,0\n,1\n3,1\n4,0\n", "one.csv")
    with pytest.raises(DataError, match=r"one\.csv: missing values in 1 column: 'a' 1 row \(first at line 3\)\. Pass"):
        load_dataset(DataSpec(one, label="y"))
    two = write(tmp_path, "a,b,y\n1,,0\n,3,1\n3,4,1\n4,5,0\n", "two.csv")
    with pytest.raises(DataError, match=r"two\.csv: missing values in 2 columns: 'a' 1 row \(first at line 3\), 'b'"):
        load_dataset(DataSpec(two, label="y"))
    none = write(tmp_path, "a,b,y\n,2,0\n3,,1\n", "none.csv")
    with pytest.raises(DataError, match=r"^\S+none\.csv: every row has a missing value; nothing is left to train on\.$"):
        load_dataset(DataSpec(none, label="y", missing="drop"))


def test_constant_columns_are_noted_and_trailing_empty_columns_ignored(tmp_path: Path) -> None:
    text = "a,k,y,\n1,5,0,\n2,5,1,\n3,5,0,\n4,5,1,\n"  # a trailing comma on every line, as spreadsheets write
    data = load_dataset(DataSpec(write(tmp_path, text), label="y"))
    assert data.feature_names == ("a", "k") and data.notes["constant_columns"] == ["k"]


def test_blank_lines_are_not_rows(tmp_path: Path) -> None:
    data = load_dataset(DataSpec(write(tmp_path, "a,y\n1,0\n\n2,1\n\n3,0\n"), label="y"))
    assert data.x[:, 0].tolist() == [1, 2, 3]


def test_values_beyond_float32_are_refused_with_their_line(tmp_path: Path) -> None:
    """The issue's case: training on 1e39 (inf as float32) was scikit-learn's `ValueError: Input contains NaN`."""
    with pytest.raises(DataError, match=r"line 3, column 1 \('x'\): expected a finite number within float32 range "
                                        r"\(\+-3.4e38\), got -1e\+39\.$"):
        load_dataset(DataSpec(write(tmp_path, "x,y\n1,0\n-1e39,1\n2,1\n"), label="y"))
    assert load_dataset(DataSpec(write(tmp_path, "x,y\n1,0\n3e38,1\n2,1\n"), label="y")).x.max() == np.float32(3e38)


def test_errors_after_blank_lines_name_the_line_in_the_file(tmp_path: Path) -> None:
    # blank lines are dropped before the values are checked: a message must still point at the file's own line
    blanks = "a,b,y\n1,2,0\n\n2,3,1\n\n"
    with pytest.raises(DataError, match=r"t.csv, line 6, column 1 \('a'\): expected a number, got 'abc'"):
        load_dataset(DataSpec(write(tmp_path, blanks + "abc,4,0\n5,6,1\n"), label="y"))
    with pytest.raises(DataError, match=r"t.csv, line 7, column 2 \('b'\): expected a finite number, got inf"):
        load_dataset(DataSpec(write(tmp_path, blanks + "4,5,0\n5,inf,1\n"), label="y"))
    with pytest.raises(DataError, match=r"1 \(2 rows, first at line 4\), 0 \(1 row, first at line 2\), 2 \(1 row, first at line 6\)"):
        load_dataset(DataSpec(write(tmp_path, blanks + "4,5,2\n5,6,1\n"), label="y"))


def test_one_feature_and_a_thousand(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    wide = pl.DataFrame({f"f {i}": rng.normal(size=50) for i in range(1000)}).with_columns(
        pl.Series("y", np.arange(50) % 2))
    assert load_dataset(DataSpec(write(tmp_path, wide), label="y")).x.shape == (50, 1000)
    assert load_dataset(DataSpec(write(tmp_path, "x,y\n1,0\n2,1\n"), label="y")).x.shape == (2, 1)


# --- the split --------------------------------------------------------------------------------


def test_default_split_is_the_tutorials(bundled) -> None:
    rows = split(bundled)
    assert (len(rows.y_train), len(rows.y_test)) == (427, 142)
    expected_train = pd.DataFrame(np.zeros(569)).sample(frac=0.75, random_state=1).index.to_numpy()
    np.testing.assert_array_equal(rows.train_index, expected_train)
    assert not set(rows.train_index) & set(rows.test_index)
    assert rows.x_train.dtype == np.float32 and rows.x_train.flags.c_contiguous


def test_stratified_split_keeps_the_class_ratio(tmp_path: Path) -> None:
    frame = table(200).with_columns(pl.Series("outcome", np.where(np.arange(200) < 20, "Yes", "No")))
    data = load_dataset(DataSpec(write(tmp_path, frame), label="outcome", positive="Yes"))
    rows = split(data, test_fraction=0.25, stratify=True)
    assert (int(rows.y_train.sum()), int(rows.y_test.sum())) == (15, 5)
    assert len(rows.y_test) == 50


def test_too_few_rows_of_a_class(tmp_path: Path) -> None:
    frame = table(30).with_columns(pl.Series("outcome", ["Yes"] + ["No"] * 29))
    data = load_dataset(DataSpec(write(tmp_path, frame), label="outcome", positive="Yes"))
    with pytest.raises(DataError, match=r"class 'Yes' has 1 row; at least 2 of each class are needed to split"):
        split(data)
    two = frame.with_columns(pl.Series("outcome", ["Yes", "Yes"] + ["No"] * 28))
    data = load_dataset(DataSpec(write(tmp_path, two), label="outcome", positive="Yes"))
    with pytest.raises(DataError, match=r"the training rows hold only one class; pass --stratify"):
        split(data, test_fraction=0.5, seed=1)  # this seed puts both 'Yes' rows in the test part
    assert int(split(data, test_fraction=0.5, stratify=True).y_train.sum()) == 1


def test_separate_test_table(tmp_path: Path) -> None:
    spec = DataSpec(write(tmp_path, table(40, seed=1), "train.csv"), label="outcome", positive="Yes")
    train = load_dataset(spec)
    test_frame = table(10, seed=2).select("outcome", "age", "Blood Pressure")  # other order, fewer columns
    from model.data import prepare

    test = prepare(read_table(write(tmp_path, test_frame, "test.csv")), spec, like=train)
    rows = separate_test(train, test)
    assert rows.x_train.shape == (40, 2) and rows.x_test.shape == (10, 2)
    np.testing.assert_array_equal(rows.x_test[:, 0], test_frame["Blood Pressure"].to_numpy().astype(np.float32))


def test_fingerprint_changes_with_any_label(bundled) -> None:
    from dataclasses import replace

    flipped = replace(bundled, y=np.where(np.arange(569) == 7, 1 - bundled.y, bundled.y).astype(np.float32))
    assert fingerprint(flipped) != fingerprint(bundled) and len(fingerprint(bundled)) == 64


@pytest.mark.parametrize(("text", "spec", "match"), [
    ("a,y\n", {}, r"the table has a header but no data rows"),
    ("a,a,y\n1,2,0\n3,4,1\n", {}, r"line 1: duplicate column names: 'a' in columns 1, 2\. Column names must be unique"),
    ("a,b,y\n1,2,0\n3,4,1\n", {"features": ("a", "a")}, r"--features names 'a' more than once"),
])
def test_tables_that_cannot_be_trained_on(tmp_path: Path, text: str, spec: dict, match: str) -> None:
    with pytest.raises(DataError, match=match):
        load_dataset(DataSpec(write(tmp_path, text), label="y", **spec))


def test_stratified_split_that_cannot_be_made_is_a_data_error(tmp_path: Path) -> None:
    data = load_dataset(DataSpec(write(tmp_path, "a,y\n1,0\n2,1\n3,0\n4,1\n"), label="y"))
    with pytest.raises(DataError, match=r"cannot split 4 rows with --stratify and --test-fraction 0.25: The test_size"):
        split(data, stratify=True)


def test_a_test_table_may_hold_one_class_but_no_other_value(tmp_path: Path) -> None:
    from model.data import prepare

    spec = DataSpec(write(tmp_path, "a,y\n1,no\n2,yes\n3,no\n4,yes\n", "train.csv"), label="y", positive="yes")
    train = load_dataset(spec)
    test = prepare(read_table(write(tmp_path, "y,a\nyes,5\nyes,6\n", "test.csv")), spec, like=train)
    assert test.y.tolist() == [1, 1] and test.labels == train.labels
    with pytest.raises(DataError, match=r"test.csv, line 3, label column 'y': expected one of the training table's "
                                        r"values 'no', 'yes', got 'maybe'"):
        prepare(read_table(write(tmp_path, "y,a\nyes,5\nmaybe,6\n", "test.csv")), spec, like=train)
    with pytest.raises(DataError, match=r"test.csv, line 5, label column 'y': expected one of the training table's "
                                        r"values 'no', 'yes', got 'maybe'"):  # its line, blank lines counted
        prepare(read_table(write(tmp_path, "y,a\nyes,5\n\n\nmaybe,6\n", "test.csv")), spec, like=train)


@pytest.mark.parametrize(("n", "test_fraction", "seed"), [(569, 0.25, 1), (30, 0.5, 1), (101, 0.2, 3), (7, 0.4, 0)])
def test_the_split_draws_what_pandas_sample_draws(n: int, test_fraction: float, seed: int) -> None:
    from dataclasses import replace

    from model.data import Dataset, Labels

    y = (np.arange(n) % 2).astype(np.float32)
    data = Dataset(np.zeros((n, 1), np.float32), y, ("x",), Labels("y", 1, 0, {}), "t")
    rows = split(replace(data), test_fraction=test_fraction, seed=seed)
    want = pd.DataFrame(np.zeros(n)).sample(frac=1 - test_fraction, random_state=seed).index.to_numpy()
    np.testing.assert_array_equal(rows.train_index, want)


def test_separate_test_trains_on_every_row_and_tests_on_every_row_of_the_other_table(tmp_path: Path) -> None:
    from model.data import prepare

    # One 'Yes' row is enough to train on (a split would need two).
    spec = DataSpec(write(tmp_path, "a,y\n1,No\n2,Yes\n3,No\n", "train.csv"), label="y", positive="Yes")
    train = load_dataset(spec)
    test = prepare(read_table(write(tmp_path, "y,a\nYes,5\nNo,6\nYes,7\nYes,8\n", "test.csv")), spec, like=train)
    rows = separate_test(train, test)
    assert rows.y_train.tolist() == [0, 1, 0] and rows.y_test.tolist() == [1, 0, 1, 1]
    assert rows.x_test[:, 0].tolist() == [5, 6, 7, 8]
    assert rows.train_index.tolist() == [0, 1, 2] and rows.test_index.tolist() == [0, 1, 2, 3]
    assert rows.method == f"all rows of {train.source} train; all rows of {test.source} test"


def _dataset(y: list[int] | np.ndarray, source: str = "t.csv"):
    from model.data import Dataset, Labels

    y = np.asarray(y, np.float32)
    return Dataset(np.arange(len(y), dtype=np.float32)[:, None], y, ("x",), Labels("y", "Yes", "No", {}), source)


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5, -0.25])
def test_the_test_fraction_must_be_strictly_between_0_and_1(fraction: float) -> None:
    with pytest.raises(DataError, match=rf"^--test-fraction must be between 0 and 1, got {fraction}\.$"):
        split(_dataset(np.arange(40) % 2), test_fraction=fraction)


def test_a_stratified_split_is_sklearns_with_the_fraction_and_seed_it_names() -> None:
    from sklearn.model_selection import train_test_split

    y = (np.arange(200) % 5 == 0).astype(np.float32)  # 40 positive
    rows = split(_dataset(y), test_fraction=0.4, stratify=True, seed=7)
    want_train, want_test = train_test_split(np.arange(200), test_size=0.4, stratify=y, random_state=7)
    np.testing.assert_array_equal(rows.train_index, want_train)
    np.testing.assert_array_equal(rows.test_index, want_test)
    np.testing.assert_array_equal(rows.x_test[:, 0], want_test.astype(np.float32))
    assert (len(rows.y_test), int(rows.y_test.sum())) == (80, 16)
    assert rows.method == "stratified: sklearn train_test_split(test_size=0.4, random_state=7)"


def test_the_default_split_names_what_pandas_would_draw() -> None:
    assert split(_dataset(np.arange(40) % 2)).method == ("frame.sample(frac=0.75, random_state=1); test = the "
                                                         "remaining rows")
    assert split(_dataset(np.arange(40) % 2), test_fraction=0.2, seed=4).method == (
        "frame.sample(frac=0.8, random_state=4); test = the remaining rows")


def test_a_split_needs_two_rows_of_each_class_the_negative_one_too() -> None:
    with pytest.raises(DataError) as info:
        split(_dataset([1] * 9 + [0]))
    says(str(info.value), "t.csv:", "'No' has 1 row", "at least 2")
    with pytest.raises(DataError, match=r"^t.csv: class 'Yes' has 0 rows; at least 2 of each class"):
        split(_dataset([0] * 10))


def test_a_split_whose_training_rows_hold_one_class_says_how_to_fix_it() -> None:
    y = [1, 1] + [0] * 28
    with pytest.raises(DataError) as info:
        split(_dataset(y), test_fraction=0.5, seed=1)  # this seed puts both 'Yes' rows in the test part
    says(str(info.value), "t.csv:", "only one class", "--stratify")


def test_separate_test_needs_a_row_of_each_class_to_train_on() -> None:
    from model.data import Dataset, Labels

    labels = Labels("y", "Yes", "No", {})
    train = Dataset(np.zeros((3, 1), np.float32), np.zeros(3, np.float32), ("x",), labels, "train.csv")
    test = Dataset(np.zeros((2, 1), np.float32), np.array([1, 0], np.float32), ("x",), labels, "test.csv")
    with pytest.raises(DataError, match=r"^train.csv: class 'Yes' has 0 rows; at least 1 of each class are needed "
                                        r"to train\.$"):
        separate_test(train, test)


@pytest.mark.parametrize(("train_labels", "test_labels", "y"), [
    ("0,1,0,1", "1,1,0", [1, 1, 0]),
    ("false,true,false,true", "true,false,false", [1, 0, 0]),
    ("0,1,0,1", "1.0,0.0,1.0", [1, 0, 1]),
])
def test_a_test_tables_labels_are_matched_by_value_whatever_their_type(tmp_path: Path, train_labels: str,
                                                                       test_labels: str, y: list[int]) -> None:
    from model.data import prepare

    train_text = "a,y\n" + "".join(f"{i},{v}\n" for i, v in enumerate(train_labels.split(",")))
    test_text = "a,y\n" + "".join(f"{i},{v}\n" for i, v in enumerate(test_labels.split(",")))
    spec = DataSpec(write(tmp_path, train_text, "train.csv"), label="y")
    train = load_dataset(spec)
    test = prepare(read_table(write(tmp_path, test_text, "test.csv")), spec, like=train)
    assert test.y.dtype == np.float32 and test.y.tolist() == y


def test_labels_and_class_balance_as_the_report_shows_them(tmp_path: Path) -> None:
    from model.data import class_balance

    data = load_dataset(DataSpec(write(tmp_path, table(12)), label="outcome", positive="Yes"))
    assert data.labels.as_dict() == {"label_column": "outcome", "positive_class": "Yes", "negative_class": "No",
                                     "label_meaning": {"0": "No", "1": "Yes"}}
    assert class_balance(data.labels, data.y) == {"Yes": 4, "No": 8}
    assert class_balance(data.labels, data.y[:4]) == {"Yes": 2, "No": 2}


def test_first_lines_are_right_for_a_file_whose_name_holds_a_comma(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"^\S+/a, b\.csv, label column 'y': expected exactly two classes, found 3: "
                                        r"'b' \(2 rows, first at line 3\), 'a' \(1 row, first at line 2\), "
                                        r"'c' \(1 row, first at line 5\)\. Only binary"):
        load_dataset(DataSpec(write(tmp_path, "x,y\n1,a\n2,b\n3,b\n4,c\n", "a, b.csv"), label="y"))
    with pytest.raises(DataError, match=r"'x' 1 row \(first at line 3\)"):
        load_dataset(DataSpec(write(tmp_path, "x,y\n1,0\n,1\n3,0\n4,1\n", "c, d.csv"), label="y"))


def test_an_unknown_feature_lists_at_most_five_columns_when_nothing_is_close(tmp_path: Path) -> None:
    text = "c1,c2,c3,c4,c5,c6,y\n1,2,3,4,5,6,0\n1,2,3,4,5,6,1\n"
    with pytest.raises(DataError, match=r"t.csv: no columns 'zzz'\. It has 'c1', 'c2', 'c3', 'c4', 'c5' and 2 more\.$"):
        load_dataset(DataSpec(write(tmp_path, text), label="y", features=("zzz",)))
    with pytest.raises(DataError, match=r"t.csv: no columns 'zzz'\. It has 'c1', 'c2', 'c3', 'c4', 'y'\.$"):
        load_dataset(DataSpec(write(tmp_path, "c1,c2,c3,c4,y\n1,2,3,4,0\n1,2,3,4,1\n"), label="y", features=("zzz",)))


def test_a_text_column_is_a_feature_when_half_its_non_blank_values_are_numbers(tmp_path: Path) -> None:
    # 'mixed' holds 1 and x (blanks do not count): half numbers, so a feature, and its 'x' is an error.
    with pytest.raises(DataError, match=r"line 5, column 3 \('mixed'\): expected a number, got 'x'"):
        load_dataset(DataSpec(write(tmp_path, "a,blank,mixed,y\n1, ,1,0\n2, , ,1\n3, , ,0\n4, ,x,1\n"), label="y"))
    # A column of blanks alone is text with no numbers: skipped and reported, not a feature.
    data = load_dataset(DataSpec(write(tmp_path, "a,blank,y\n1, ,0\n2, ,1\n3, ,0\n"), label="y"))
    assert data.feature_names == ("a",) and data.notes["skipped_non_numeric_columns"] == ["blank"]


def test_fingerprint_of_the_bundled_data_is_stable() -> None:
    """Reports and exported metadata name the training data by this hash; the same rows must keep it."""
    assert fingerprint(load_dataset()) == "970dfb47765c307ce5c8273618533b85600e60f9fd493c0a4c07ffe86620490f"


# ------------------------------------------------------------------ missing-value spellings, decimal marks, ids


@pytest.mark.parametrize("spelling", ["NA", "N/A", "NaN", "null", "?", "", " NA "])
def test_common_missing_value_spellings_are_missing_and_the_error_names_missing_drop(tmp_path: Path,
                                                                                    spelling: str) -> None:
    path = write(tmp_path, f"x,z,y\n1.5,1,0\n{spelling},2,1\n2.5,3,0\n3.5,4,1\n")
    with pytest.raises(DataError, match=r"missing values in 1 column: 'x' 1 row \(first at line 3\)\. Pass --missing "
                                        r"drop"):
        load_dataset(DataSpec(path, label="y"))
    data = load_dataset(DataSpec(path, label="y", missing="drop"))
    assert data.x[:, 0].tolist() == [1.5, 2.5, 3.5] and data.notes["rows_dropped_missing"]["rows"] == 1


def test_na_values_replace_the_spellings_and_none_reads_them_as_text(tmp_path: Path) -> None:
    path = write(tmp_path, "x,y\n1.5,0\n-999,1\n2.5,1\nNA,0\n3.5,0\n")
    data = load_dataset(DataSpec(path, label="y", missing="drop", na_values=("-999", "NA")))
    assert data.x[:, 0].tolist() == [1.5, 2.5, 3.5]
    with pytest.raises(DataError, match=r"line 5, column 1 \('x'\): expected a number, got 'NA'\. If 'NA' marks a "
                                        r"missing value, list it with --na-values .* and pass --missing drop"):
        load_dataset(DataSpec(path, label="y", na_values=("-999",)))
    with pytest.raises(DataError, match=r"got 'NA'"):
        load_dataset(DataSpec(path, label="y", na_values=()))


def test_a_decimal_comma_column_is_an_error_naming_it_and_the_fix_never_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, "a;b;y\n66,7;1;0\n12,5;2;1\n3;3;0\n8,25;4;1\n")
    with pytest.raises(DataError, match=r"t.csv, column 1 \('a'\): its values look like numbers with a decimal comma, "
                                        r"such as '66,7'.* Pass --decimal , to read them as numbers"):
        load_dataset(DataSpec(path, label="y"))
    data = load_dataset(DataSpec(path, label="y", decimal=","))
    assert data.feature_names == ("a", "b")
    np.testing.assert_array_equal(data.x[:, 0], np.float32([66.7, 12.5, 3, 8.25]))


def test_a_quoted_decimal_comma_in_a_comma_separated_file_parses_with_decimal_comma(tmp_path: Path) -> None:
    path = write(tmp_path, 'a,y\n"66,7",0\n"1,5",1\n2,0\n')
    np.testing.assert_array_equal(load_dataset(DataSpec(path, label="y", decimal=",")).x[:, 0],
                                  np.float32([66.7, 1.5, 2]))


def test_a_stray_decimal_comma_in_a_numeric_column_suggests_decimal(tmp_path: Path) -> None:
    path = write(tmp_path, "a\ty\n1.5\t0\n2\t1\n3,5\t0\n4\t1\n")
    with pytest.raises(DataError, match=r"line 4, column 1 \('a'\): expected a number, got '3,5'\. Pass --decimal ,"):
        load_dataset(DataSpec(path, label="y"))


def test_a_mostly_numeric_text_column_is_an_error_not_a_skipped_column(tmp_path: Path) -> None:
    rows = "".join(f"{i}.5,{i % 2}\n" for i in range(9))
    path = write(tmp_path, f"x,y\n{rows}unknown,1\nunknown,0\n")
    with pytest.raises(DataError, match=r"line 11, column 1 \('x'\): expected a number, got 'unknown' \(2 values in "
                                        r"this column are not numbers\)\. If 'unknown' marks a missing value"):
        load_dataset(DataSpec(path, label="y"))


@pytest.mark.parametrize("name", ["id", "ID", "customer_id", "Customer ID", "CustomerID", "patient.id"])
def test_columns_named_like_ids_are_not_features(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, f"{name},x,y\n11,1.5,0\n12,2.5,1\n13,3.5,0\n")
    data = load_dataset(DataSpec(path, label="y"))
    assert data.feature_names == ("x",) and data.notes["id_columns"] == [name]


def test_distinct_text_in_every_row_is_an_id_and_repeated_text_is_a_skipped_column(tmp_path: Path) -> None:
    path = write(tmp_path, "name,town,paid,y\nAnna,Ulm,1.5,0\nBen,Ulm,2.5,1\nCara,Bonn,3.5,0\nDan,Ulm,1,1\n")
    data = load_dataset(DataSpec(path, label="y"))
    assert data.notes["id_columns"] == ["name"]
    assert data.notes["skipped_non_numeric_columns"] == ["town"]
    assert data.feature_names == ("paid",)  # "paid" ends in "id" but is not named like one
    assert load_dataset(DataSpec(path, label="y", id_column="town")).notes["id_columns"] == ["town"]
