"""Delimited-text conventions that training and scoring share: the separators, their sniffing, the BOM."""

from __future__ import annotations

import argparse
import csv

BOM = b"\xef\xbb\xbf"
#: Field separators a header is sniffed for (what spreadsheets and databases write), the first preferred on a tie.
SEPARATORS = (",", ";", "\t", "|")


def sniff_separator(header: str) -> str:
    """The separator that splits the header line into the most fields (``,`` when none splits it)."""
    try:
        counts = {sep: len(next(csv.reader([header], delimiter=sep), [])) for sep in SEPARATORS}
    except csv.Error:  # e.g. a bare CR inside: not a header line; the reader will say what is wrong, and where
        return ","
    return max(SEPARATORS, key=lambda sep: counts[sep])  # max keeps the first of equals: ',' wins ties


def separator_option(text: str) -> str:
    """``--sep``: one of the separators, with ``tab`` or ``\\t`` for a tab."""
    value = {"tab": "\t", "\\t": "\t"}.get(text.lower(), text)
    if value not in SEPARATORS:
        raise argparse.ArgumentTypeError(f"expected one of , ; | tab, got {text!r}")
    return value
