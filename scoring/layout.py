"""Header fields and column matching: where the model's features and the pass-through columns are."""

from __future__ import annotations

import csv
import difflib
from dataclasses import dataclass

import numpy as np
import polars as pl

from scoring.errors import InputError

OUTPUT_COLUMNS = ("probability", "label")
# The csv module refuses fields over 131,072 characters by default; a pass-through text can be longer.
csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))


def split_fields(line: bytes, source: str, line_number: int) -> list[str]:
    try:
        return next(csv.reader([line.decode("utf-8")]))
    except UnicodeDecodeError as exc:
        raise InputError(f"expected UTF-8 text, found byte 0x{line[exc.start]:02x}", source, line_number) from None
    except csv.Error as exc:
        raise InputError(csv_problem(exc), source, line_number) from None


def csv_problem(exc: csv.Error) -> str:
    """The csv module's complaint in our words; the one people meet is a file with CR-only line endings."""
    if "new-line character" in str(exc):
        return "found a carriage return inside an unquoted field; expected lines ending in LF or CRLF"
    return f"cannot parse the record: {exc}"


@dataclass(frozen=True)
class Layout:
    """Where the model's features and the pass-through columns are in the input."""

    source: str
    names: tuple[str, ...]
    feature_index: tuple[int, ...]
    keep_index: tuple[int, ...]
    has_header: bool

    @property
    def n_columns(self) -> int:
        return len(self.names)

    @property
    def keep_names(self) -> list[str]:
        return [self.names[i] for i in self.keep_index]

    @property
    def output_names(self) -> list[str]:
        return [*self.keep_names, *OUTPUT_COLUMNS]

    # How polars reads these columns: by position (named column_1, ...), features straight to float32
    # unless they are also passed through as text, and the last column always, to spot short rows.

    @property
    def polars_schema(self) -> dict[str, pl.DataType]:
        kept = set(self.keep_index)
        return {_col(i): pl.Float32 if i in self.feature_index and i not in kept else pl.String
                for i in range(self.n_columns)}

    @property
    def projection(self) -> list[str]:
        return [_col(i) for i in sorted({*self.feature_index, *self.keep_index, self.n_columns - 1})]

    def feature_matrix(self, frame: pl.DataFrame) -> np.ndarray:
        """C-contiguous float32 [rows, features] in model order (NaN where a value did not parse)."""
        features = frame.select([pl.col(_col(i)).cast(pl.Float32, strict=False) for i in self.feature_index])
        return np.ascontiguousarray(features.to_numpy(), dtype=np.float32).reshape(frame.height, -1)

    def doubtful(self, frame: pl.DataFrame, x: np.ndarray) -> bool:
        """NaN/inf/empty values, or a null last column (maybe a short row): only the exact path can tell."""
        return bool((x.size and not np.isfinite(x).all()) or (frame.height and frame[_col(self.n_columns - 1)].null_count()))

    def kept_columns(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Pass-through columns; an empty value, quoted or not, is null (written as an empty field), as the
        exact path, whose csv module cannot tell the two apart, has it."""
        return frame.select([pl.col(_col(i)).replace("", None).alias(self.names[i]) for i in self.keep_index])


def _col(i: int) -> str:
    return f"column_{i + 1}"  # polars' own names for headerless columns


def _quote_list(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _check_present(wanted: list[str], names: list[str], what: str, source: str) -> None:
    missing = sorted(set(wanted) - set(names), key=wanted.index)
    if not missing:
        return
    # Suggest only columns that are not wanted already: those are spoken for.
    candidates = [n for n in names if n not in wanted]
    hints = []
    for name in missing[:5]:
        close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.75)
        if close:
            hints.append(f"{close[0]!r} for {name!r}")
    hint = f" Did you mean {', '.join(hints)}?" if hints else ""
    raise InputError(f"missing {len(missing)} {what}: {_quote_list(missing)}.{hint}", source, 1)


def resolve_layout(first_fields: list[str], feature_names: list[str], source: str, has_header: bool = True,
                   keep: list[str] | None = None, keep_all: bool = False) -> Layout:
    """Match columns by name (header) or position (headerless: features are the last columns)."""
    n_features = len(feature_names)
    if has_header:
        names = [n.strip() for n in first_fields]
        seen: dict[str, list[int]] = {}
        for i, name in enumerate(names, start=1):
            seen.setdefault(name, []).append(i)
        dupes = {n: cols for n, cols in seen.items() if len(cols) > 1}
        if dupes:
            detail = "; ".join(f"{n!r} in columns {', '.join(map(str, c))}" for n, c in sorted(dupes.items())[:5])
            raise InputError(f"duplicate column names: {detail}. Column names must be unique.", source, 1)
        _check_present(feature_names, names, "feature columns the model needs", source)
        features = [names.index(f) for f in feature_names]
        default_keep = ["id"] if "id" in names else []
    else:
        if len(first_fields) < n_features:
            raise InputError(f"expected at least {n_features} columns (the model's features, last), "
                             f"found {len(first_fields)}", source, 1)
        names = [f"column_{i}" for i in range(1, len(first_fields) + 1)]
        features = list(range(len(names) - n_features, len(names)))
        default_keep = names[: len(names) - n_features]
    if keep_all:
        keep_names = list(names)
    elif keep is not None:
        _check_present(keep, names, "--keep columns", source)
        keep_names = list(dict.fromkeys(keep))
    else:
        keep_names = default_keep
    clash = [n for n in keep_names if n in OUTPUT_COLUMNS]
    if clash:
        raise InputError(f"kept column {clash[0]!r} has the name of an output column; "
                         f"rename it or leave it out of --keep", source, 1)
    return Layout(source, tuple(names), tuple(features), tuple(names.index(n) for n in keep_names), has_header)
