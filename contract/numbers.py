"""How numbers are written in a table: the missing-value spellings and the decimal mark, for training and scoring."""

from __future__ import annotations

import argparse
from typing import Any

#: Spellings of a missing value: pandas' defaults (read_csv's na_values), plus UCI's "?". An empty field is always
#: missing. Matched exactly, after surrounding spaces are stripped.
DEFAULT_NA_VALUES: tuple[str, ...] = (
    "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA",
    "NULL", "NaN", "None", "n/a", "nan", "null", "?",
)
#: The decimal marks a number may use: "." everywhere, "," in most European exports (with ";" between fields).
DECIMALS = (".", ",")
#: What --na-values says for "no spelling is missing, only an empty field".
NO_NA = "none"


def na_values_option(text: str) -> tuple[str, ...]:
    """``--na-values``: comma-separated spellings that mean "missing" (they replace the defaults), or ``none``."""
    if text.strip().lower() == NO_NA:
        return ()
    values = tuple(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated spellings such as 'NA,?' or {NO_NA!r}, "
                                         f"got {text!r}")
    return values


def decimal_option(text: str) -> str:
    """``--decimal``: the decimal mark, ``.`` or ``,``."""
    if text not in DECIMALS:
        raise argparse.ArgumentTypeError(f"expected '.' or ',', got {text!r}")
    return text


def parse_numbers(text: Any, na_values: tuple[str, ...] | list[str], decimal: str, dtype: Any) -> tuple[Any, Any]:
    """``(numbers, missing)`` of a polars String Series: ``numbers`` is null where a value is missing (empty or one
    of ``na_values``) or not a number; ``missing`` is True where it is missing. polars parses, as its CSV reader does
    (with ``decimal_comma`` for ","), so a value parses the same here and in a CSV read straight to numbers."""
    stripped = text.str.strip_chars()
    missing = stripped.is_null() | (stripped == "") | stripped.is_in(list(na_values))
    if decimal == ",":
        stripped = stripped.str.replace(",", ".", literal=True)
    return stripped.cast(dtype, strict=False), missing
