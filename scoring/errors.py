"""Errors raised by the scoring package; the CLI prints them as one line ``Type: message``."""

from __future__ import annotations

from contract.errors import ToolkitError


class ScoringError(ToolkitError):
    """Base class: a problem with the scorer's input or options (exit code 2); the model's is ModelError."""


class OutputError(ScoringError):
    """The output cannot be written (a full disk, a read-only filesystem, ...); nothing half-written is left."""


class InputError(ScoringError):
    """The input is malformed; the message names the file, the 1-based line (a row, in Parquet) and the column."""

    def __init__(self, message: str, source: str = "", line: int | None = None,
                 column: str | None = None, column_number: int | None = None, hint: str = "",
                 unit: str = "line") -> None:
        self.source, self.line, self.column, self.reason = source, line, column, message
        self.column_number, self.hint, self.unit = column_number, hint, unit
        parts = [source, f"{unit} {line}" if line is not None else ""]
        if column is not None:
            parts.append(f"column {column_number} ({column!r})" if column_number else f"column {column!r}")
        where = ", ".join(p for p in parts if p)
        text = f"{message} {hint}" if hint else message
        super().__init__(f"{where}: {text}" if where else text)

