"""Tests for contract.numbers: the missing-value spellings, the decimal mark, and how a text value parses."""

from __future__ import annotations

import argparse

import polars as pl
import pytest

from contract.numbers import DEFAULT_NA_VALUES, decimal_option, na_values_option, parse_numbers


def test_the_default_spellings_are_pandas_and_ucis() -> None:
    from pandas._libs.parsers import STR_NA_VALUES  # read_csv's default na_values, in the pinned pandas

    assert set(DEFAULT_NA_VALUES) == (set(STR_NA_VALUES) - {""}) | {"?"}


def test_na_values_option_replaces_the_list_or_turns_it_off() -> None:
    assert na_values_option("NA, ?,-999,NA") == ("NA", "?", "-999")
    assert na_values_option("none") == na_values_option("None") == ()
    with pytest.raises(argparse.ArgumentTypeError, match="expected comma-separated spellings"):
        na_values_option(" , ")


def test_decimal_option_takes_a_point_or_a_comma() -> None:
    assert (decimal_option("."), decimal_option(",")) == (".", ",")
    with pytest.raises(argparse.ArgumentTypeError, match=r"expected '\.' or ',', got ';'"):
        decimal_option(";")


def test_parse_numbers_tells_missing_from_not_a_number() -> None:
    text = pl.Series(["1.5", " NA ", "", None, "x", "2,5", "?"])
    values, missing = parse_numbers(text, ("NA", "?"), ".", pl.Float64)
    assert values.to_list() == [1.5, None, None, None, None, None, None]
    assert missing.to_list() == [False, True, True, True, False, False, True]
    values, _ = parse_numbers(text, (), ",", pl.Float32)
    assert values.to_list()[0] == 1.5 and values.to_list()[5] == 2.5
