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


def capped(items: list[object], limit: int = 5, width: int = 60, total: int | None = None) -> str:
    """At most ``limit`` items, each quoted and cut at ``width`` characters, then "and N more": a message stays one
    short line whatever the input holds (100,000 repeated column names, a folder of thousands of files).
    ``total``: how many there are, where ``items`` holds only the first few."""
    count = len(items) if total is None else total
    shown = ", ".join(repr(cut(str(item), width)) for item in items[:limit])
    return shown + (f" and {count - min(limit, len(items))} more" if count > min(limit, len(items)) else "")


def cut(text: str, width: int) -> str:
    """``text`` if it is at most ``width`` characters, else its first ``width - 3`` and "..." (``width`` in all)."""
    return text if len(text) <= width else text[: width - 3] + "..."
