"""Tests for scoring.parsing: the fast and exact paths agree, and bad rows are located."""

from __future__ import annotations

import numpy as np
import pytest

from model.wdbc import FEATURE_NAMES
from scoring.blocks import Block
from scoring.errors import InputError
from scoring.layout import resolve_layout
from scoring.parsing import _parse_exact, parse_block

NAMES = list(FEATURE_NAMES)


def _rows(values: list[list[str]]) -> bytes:
    return "".join(",".join(r) + "\n" for r in values).encode()


def test_fast_and_exact_paths_agree_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    values = [[str(i)] + [repr(float(v)) for v in rng.normal(0, 100, 30)] for i in range(200)]
    layout = resolve_layout(["id", *NAMES], NAMES, "f.csv")
    block = Block(_rows(values), 2)
    fast, exact = parse_block(block, layout), _parse_exact(block, layout)
    assert fast.features.tobytes() == exact.features.tobytes()
    assert fast.kept.equals(exact.kept)


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
    with pytest.raises(InputError, match=r"f.csv, line 4: found a carriage return inside an unquoted field"):
        parse_block(Block(data, 2), layout)
