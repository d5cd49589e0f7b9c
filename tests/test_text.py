"""contract.text: separators sniffed from a header, --sep, and values cut so that a message stays one short line."""

from __future__ import annotations

import argparse

import pytest

from contract.text import capped, cut, separator_option, sniff_separator


@pytest.mark.parametrize(("text", "width", "shown"), [
    ("abc", 3, "abc"),
    ("abcd", 3, "..."),
    ("x" * 40, 40, "x" * 40),
    ("x" * 41, 40, "x" * 37 + "..."),
    ("", 5, ""),
])
def test_cut_keeps_text_of_the_width_and_cuts_longer_text_to_exactly_the_width(text: str, width: int,
                                                                               shown: str) -> None:
    assert cut(text, width) == shown
    assert len(cut(text, width)) <= width


def test_capped_shows_at_most_limit_items_each_cut_then_how_many_more() -> None:
    assert capped(["a", "b"]) == "'a', 'b'"
    assert capped([f"c{i}" for i in range(7)]) == "'c0', 'c1', 'c2', 'c3', 'c4' and 2 more"
    assert capped(list("abcd"), limit=3) == "'a', 'b', 'c' and 1 more"
    assert capped(["y" * 100], width=10) == repr("y" * 7 + "...")
    assert capped([1, 2]) == "'1', '2'"  # any item, shown as its text


def test_capped_counts_from_total_where_only_the_first_items_are_given() -> None:
    assert capped(["a", "b"], total=10) == "'a', 'b' and 8 more"
    assert capped(["a", "b"], limit=1, total=10) == "'a' and 9 more"
    assert capped(["a", "b"], total=2) == "'a', 'b'"


def test_a_message_of_100000_repeated_names_stays_short() -> None:
    assert len(capped(["n" * 1000] * 100_000)) < 400


@pytest.mark.parametrize(("header", "sep"), [
    ("a,b,c", ","),
    ("a;b;c", ";"),
    ("a\tb\tc", "\t"),
    ("a|b|c", "|"),
    ("a;b;c,d", ";"),  # the separator giving the most fields
    ("a,b;c", ","),  # a tie goes to the comma
    ("a|b\tc", "\t"),  # ... and after it, in the order , ; tab |
    ("single", ","),
    ('"x;y",z', ","),  # a separator inside quotes does not count
])
def test_the_separator_is_the_one_that_splits_the_header_into_the_most_fields(header: str, sep: str) -> None:
    assert sniff_separator(header) == sep


def test_a_header_the_csv_module_cannot_read_sniffs_as_a_comma() -> None:
    assert sniff_separator("a;b\rc;d") == ","


@pytest.mark.parametrize(("text", "sep"), [(",", ","), (";", ";"), ("|", "|"), ("tab", "\t"), ("TAB", "\t"),
                                           ("\\t", "\t"), ("\t", "\t")])
def test_sep_takes_the_separators_and_tab_spelled_three_ways(text: str, sep: str) -> None:
    assert separator_option(text) == sep


@pytest.mark.parametrize("text", [":", " ", ",,", "", "comma"])
def test_any_other_sep_is_refused_showing_what_was_given(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as caught:
        separator_option(text)
    assert repr(text) in str(caught.value)
