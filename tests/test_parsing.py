"""Tests for scoring.io.parsing: the fast and exact paths agree, and bad rows are located."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from model.wdbc import FEATURE_NAMES
from scoring.errors import InputError
from scoring.io.blocks import Block
from scoring.io.layout import resolve_layout
from scoring.io.parsing import _parse_exact, parse_block
from scoring.timing import Stages
from tests.expect import says

NAMES = list(FEATURE_NAMES)


def _rows(values: list[list[str]], separator: str = ",") -> bytes:
    return "".join(separator.join(r) + "\n" for r in values).encode()


def test_fast_and_exact_paths_agree_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    values = [[str(i)] + [repr(float(v)) for v in rng.normal(0, 100, 30)] for i in range(200)]
    layout = resolve_layout(["id", *NAMES], NAMES, "f.csv")
    block = Block(_rows(values), 2)
    fast, exact = parse_block(block, layout), _parse_exact(block, layout)
    assert fast.features.tobytes() == exact.features.tobytes()
    assert fast.kept.equals(exact.kept)


def test_a_clean_block_is_timed_as_parse_and_convert_and_a_doubtful_one_also_as_parse_exact() -> None:
    """The stages benchmarks.scoring reports ("Where the time goes"): the exact path is only the fallback."""
    layout = resolve_layout(["id", *NAMES], NAMES, "f.csv")
    values = [[str(i)] + ["1.5"] * 30 for i in range(20)]
    clean = Stages()
    parse_block(Block(_rows(values), 2), layout, clean)
    assert set(clean.seconds) == {"parse", "convert"}
    semicolons = resolve_layout(["id", *NAMES], NAMES, "f.csv", separator=";")
    timed = Stages()
    parse_block(Block(_rows(values).replace(b",", b";"), 2), semicolons, timed)
    assert set(timed.seconds) == {"parse", "convert"}  # the fast path reads with the file's separator
    for bad, stages in (("nan", {"parse", "convert", "parse_exact"}), ("abc", {"parse", "parse_exact"})):
        values[7][4] = bad  # NaN parses, then is doubted; text fails polars' float parser
        timed = Stages()
        parse_block(Block(_rows(values), 2), layout, timed)
        assert set(timed.seconds) == stages, bad


@pytest.mark.parametrize(
    ("bad", "field", "message"),
    [("abc", 3, r"line 5, column 4 \('texture_mean'\): expected a number, got 'abc'"),
     ("", 2, r"line 5, column 3 \('radius_mean'\): expected a number, got an empty value"),
     ("nan", 5, r"line 5, column 6 \('area_mean'\): expected a finite number, got NaN"),
     ("-inf", 31, r"line 5, column 32 \('fractal_dimension_largest'\): expected a finite number, got an infinite")],
)
def test_bad_values_are_located_by_line_and_column(bad: str, field: int, message: str) -> None:
    values = [["7", "B"] + ["1.5"] * 30 for _ in range(6)]
    values[3][field] = bad
    layout = resolve_layout(["id", "diagnosis", *NAMES], NAMES, "f.csv")
    parsed = parse_block(Block(_rows(values), 2), layout)
    assert parsed.rows == 5 and len(parsed.rejects) == 1
    with pytest.raises(InputError, match=message):
        raise parsed.rejects[0].error("f.csv")


def test_ragged_rows_and_blank_lines() -> None:
    values = [["1"] + ["1.5"] * 30, ["2"] + ["1.5"] * 29, [], ["3"] + ["1.5"] * 31, ["4"] + ["2"] * 30]
    layout = resolve_layout(["id", *NAMES], NAMES, "f.csv")
    parsed = parse_block(Block(_rows(values), 10), layout)
    assert parsed.kept["id"].to_list() == ["1", "4"]
    assert [(r.line, r.reason) for r in parsed.rejects] == [
        (11, "expected 31 fields (as in the header), saw 30"), (13, "expected 31 fields (as in the header), saw 32")]


def test_empty_pass_through_values_are_null_on_both_paths() -> None:
    """Quoted or not, an empty kept value is null on the fast and the exact path (written as an empty field)."""
    features = ",".join(["1.5"] * 30)
    data = f'1,,{features}\n2,"",{features}\n3," ",{features}\n4,"a,b",{features}\n'.encode()
    layout = resolve_layout(["id", "note", *NAMES], NAMES, "f.csv", keep=["id", "note"])
    fast, exact = parse_block(Block(data, 2), layout), _parse_exact(Block(data, 2), layout)
    assert fast.kept["note"].to_list() == [None, None, " ", "a,b"]
    assert fast.kept.equals(exact.kept)


def test_a_lone_carriage_return_is_an_error_at_its_line() -> None:
    features = ",".join(["1.5"] * 30)
    data = f'1,"two\nlines",{features}\n2,b,1\r5,{features[4:]}\n'.encode()  # in radius_mean
    layout = resolve_layout(["id", "note", *NAMES], NAMES, "f.csv")
    with pytest.raises(InputError) as info:
        parse_block(Block(data, 2), layout)
    says(str(info.value), "f.csv, line 4:", "carriage return", "LF or CRLF")


def _one_reject(value: str, has_header: bool = True) -> str:
    """The whole message of the single bad row in a block whose fourth row has ``value`` as texture_mean."""
    values = [["7", "B"] + ["1.5"] * 30 for _ in range(6)]
    values[3][3] = value
    header = ["id", "diagnosis", *NAMES] if has_header else values[0]
    layout = resolve_layout(header, NAMES, "f.csv", has_header=has_header)
    parsed = parse_block(Block(_rows(values), 2), layout)
    assert parsed.rows == 5 and len(parsed.rejects) == 1
    return str(parsed.rejects[0].error("f.csv"))


@pytest.mark.parametrize(("value", "problem"), [
    ("NaN", "expected a finite number, got NaN ('NaN')"),
    ("+nan", "expected a finite number, got NaN ('+nan')"),
    ("-NAN", "expected a finite number, got NaN ('-NAN')"),
    ("inf", "expected a finite number, got an infinite value ('inf')"),
    ("nan7", "expected a number, got 'nan7'"),
    ("x" * 41, f"expected a number, got {'x' * 40!r}... (41 characters)"),
    ("y" * 40, f"expected a number, got {'y' * 40!r}"),
    ("1e3x", "expected a number, got '1e3x'"),
])
def test_a_bad_value_is_one_line_with_file_line_column_and_how_to_fix(value: str, problem: str) -> None:
    says(_one_reject(value), "f.csv, line 5, column 4 ('texture_mean'):", problem, "--on-error skip")


def test_a_rejected_row_keeps_its_whole_record_and_the_good_rows_their_values() -> None:
    features = ["1.5"] * 30
    features[2] = "  2.25 "  # surrounding spaces are fine
    bad = ["9", "a,b", *(["oops"] + ["1"] * 29)]
    data = _rows([["8", "x", *features]]) + ('9,"a,b",' + ",".join(bad[2:]) + "\n").encode()
    layout = resolve_layout(["id", "note", *NAMES], NAMES, "f.csv", keep=["id", "note"])
    parsed = parse_block(Block(data, 2), layout)
    assert parsed.rows == 1 and parsed.features.dtype == np.float32 and parsed.features.flags.c_contiguous
    assert parsed.features[0, :3].tolist() == [1.5, 1.5, 2.25]
    assert parsed.kept.to_dicts() == [{"id": "8", "note": "x"}]
    [reject] = parsed.rejects
    assert (reject.line, reject.column, reject.column_number, reject.record) == (3, "radius_mean", 3, '9,"a,b",oops,' + ",".join(["1"] * 29))


def test_rejects_come_in_line_order_whatever_their_kind() -> None:
    good = ["1"] + ["1.5"] * 30
    values = [good, ["2"] + ["x"] * 30, ["3"] + ["1.5"] * 29, good, ["5", "inf"] + ["1.5"] * 29]
    layout = resolve_layout(["id", *NAMES], NAMES, "f.csv")
    parsed = parse_block(Block(_rows(values), 2), layout)
    assert [(r.line, r.column) for r in parsed.rejects] == [(3, "radius_mean"), (4, None), (6, "radius_mean")]
    assert parsed.kept["id"].to_list() == ["1", "1"]


def test_headerless_ragged_rows_compare_with_the_first_line() -> None:
    layout = resolve_layout(["1"] + ["1.5"] * 30, NAMES, "wdbc.data", has_header=False)
    parsed = parse_block(Block(_rows([["1"] + ["1.5"] * 30, ["2"] + ["1.5"] * 28]), 1), layout)
    assert [(r.line, r.reason) for r in parsed.rejects] == [(2, "expected 31 fields (as in the first line), saw 29")]


def test_text_that_is_not_utf8_is_an_error_at_its_line() -> None:
    good = _rows([["1"] + ["1.5"] * 30])
    data = b"\n" + good + b"2,\xff" + b",1.5" * 29 + b"\n" + good * 3  # lines 7 (blank), 8, 9 (bad), 10-12
    layout = resolve_layout(["id", *NAMES], NAMES, "f.csv")
    with pytest.raises(InputError, match=r"^f.csv, line 9: expected UTF-8 text, found byte 0xff$"):
        parse_block(Block(data, 7), layout)


def test_a_trailing_separator_on_every_line_is_optional_on_the_exact_path() -> None:
    layout = resolve_layout(["id", *NAMES, ""], NAMES, "f.csv")
    data = _rows([["1"] + ["1.5"] * 30 + [""], ["2"] + ["2.5"] * 30, ["3"] + ["x"] * 30])
    parsed = _parse_exact(Block(data, 2), layout)
    assert parsed.kept["id"].to_list() == ["1", "2"] and parsed.features[:, 0].tolist() == [1.5, 2.5]
    assert [r.line for r in parsed.rejects] == [4]
    assert parsed.rejects[0].record == "3," + ",".join(["x"] * 30)  # the record as it was, for fixing and re-feeding


def test_a_reject_from_a_parquet_input_is_placed_by_row_not_line() -> None:
    from scoring.io.parsing import Reject

    error = Reject(7, "radius_mean", 1, "expected a number, got 'x'", "x", unit="row").error("in.parquet")
    says(str(error), "in.parquet, row 7, column 1 ('radius_mean'):", "got 'x'", "--on-error skip")
    assert str(Reject(7, None, None, "expected 31 fields, saw 2", "1,2").error("in.csv")).startswith(
        "in.csv, line 7: expected 31 fields, saw 2. Fix the row")


def test_the_exact_path_splits_on_the_layouts_separator() -> None:
    layout = resolve_layout(["id", *NAMES], NAMES, "f.csv", separator=";")
    data = ("a,b;" + ";".join(["1.5"] * 30) + "\n").encode()
    parsed = _parse_exact(Block(data, 2), layout)
    assert parsed.kept["id"].to_list() == ["a,b"] and parsed.features.tolist() == [[1.5] * 30]


def test_the_exact_path_skips_blank_lines_and_keeps_records_and_values_whole() -> None:
    features = ",".join(["1.5"] * 30)
    data = f'1,"a\r\nb",{features}\n\n""\n2,,{features}\n3,x,1.5\n'.encode()  # a lone "" is blank too
    layout = resolve_layout(["id", "note", *NAMES], NAMES, "f.csv", keep=["id", "note"])
    parsed = _parse_exact(Block(data, 2), layout)
    assert parsed.kept.to_dicts() == [{"id": "1", "note": "a\r\nb"}, {"id": "2", "note": None}]
    assert [(r.line, r.reason, r.record) for r in parsed.rejects] == [
        (7, "expected 32 fields (as in the header), saw 3", "3,x,1.5")]


def test_a_block_with_no_good_row_gives_no_rows_every_reject_and_string_pass_through_columns() -> None:
    layout = resolve_layout(["id", *NAMES], NAMES, "f.csv")
    parsed = _parse_exact(Block(b"1,2\n3\n", 5), layout)
    assert parsed.features.shape == (0, 30) and [r.line for r in parsed.rejects] == [5, 6]
    assert parsed.kept.schema == {"id": pl.String} and parsed.kept.height == 0
    empty_ids = _parse_exact(Block(("," + ",".join(["1.5"] * 30) + "\n").encode(), 2), layout)
    assert empty_ids.kept.schema == {"id": pl.String} and empty_ids.kept["id"].to_list() == [None]


def test_a_decimal_comma_under_a_point_model_is_rejected_with_the_flag_that_reads_it() -> None:
    layout = resolve_layout(["id", *NAMES], NAMES, "f.csv", separator=";")
    data = _rows([["1"] + ["1.5"] * 30, ["2"] + ["66,7"] + ["1.5"] * 29], separator=";")
    parsed = _parse_exact(Block(data, 2), layout)
    assert [r.reason for r in parsed.rejects] == [
        "expected a number, got '66,7' (a decimal comma: pass --decimal , to read it as one)"]
    assert parsed.rejects[0].record == "2;66,7;" + ";".join(["1.5"] * 29)  # as in the file, with its ';'
    comma = resolve_layout(["id", *NAMES], NAMES, "f.csv", separator=";", decimal=",")
    parsed = _parse_exact(Block(data, 2), comma)
    assert not parsed.rejects and parsed.features[1, 0] == np.float32(66.7)
