"""Tests for tests/expect.py: the message checks fail when a fact is missing, out of order, or the error is not one line."""

from __future__ import annotations

import pytest

from tests.expect import error_line, says


def test_says_needs_every_fact_in_order() -> None:
    message = "f.csv, line 5, column 4 ('x'): expected a number, got 'abc'. Pass --on-error skip"
    says(message, "f.csv", "line 5", "column 4 ('x')", "'abc'", "--on-error skip")
    with pytest.raises(AssertionError):
        says(message, "line 6")
    with pytest.raises(AssertionError):
        says(message, "column 4", "line 5")  # both there, in the wrong order


def test_error_line_needs_one_line_of_that_kind() -> None:
    assert error_line("InputError: f.csv, line 2: bad\n", "InputError", "line 2") == "InputError: f.csv, line 2: bad"
    for stderr in ("Traceback (most recent call last):\nInputError: bad\n", "InputError: a\nInputError: b\n",
                   "OutputError: bad\n", ""):
        with pytest.raises(AssertionError):
            error_line(stderr, "InputError")
