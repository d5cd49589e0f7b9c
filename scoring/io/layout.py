"""Header fields and column matching: where the model's features and the pass-through columns are."""

from __future__ import annotations

import argparse
import csv
import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from contract.numbers import parse_numbers
from contract.text import capped
from scoring.errors import InputError, ScoringError

OUTPUT_COLUMNS = ("probability", "label")
# The csv module refuses fields over 131,072 characters by default; a pass-through text can be longer.
csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))


def split_fields(line: bytes, source: str, line_number: int, separator: str = ",") -> list[str]:
    try:
        return next(csv.reader([line.decode("utf-8")], delimiter=separator))
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
class Columns:
    """How the user says to find the columns: a header or not, the separator, renames, pass-through columns."""

    header: bool = True
    sep: str | None = None
    rename: dict[str, str] = field(default_factory=dict)
    keep: list[str] | None = None
    keep_all: bool = False
    na_values: tuple[str, ...] = ()  # spellings of a missing value (the model's, or --na-values)
    decimal: str = "."  # the decimal mark (the model's, or --decimal)
    id_columns: tuple[str, ...] = ()  # the model's id columns: passed through by default


@dataclass(frozen=True)
class Layout:
    """Where the model's features and the pass-through columns are in the input."""

    source: str
    names: tuple[str, ...]
    feature_index: tuple[int, ...]
    keep_index: tuple[int, ...]
    has_header: bool
    separator: str = ","
    kind: str = "csv"  # or "parquet": columns by name from the schema, typed
    dtypes: tuple[pl.DataType, ...] | None = None  # the columns' types, where the input has them
    file_names: tuple[str, ...] | None = None  # the names in the file, before --rename (readers select by them)
    na_values: tuple[str, ...] = ()  # what else than an empty field is a missing value
    decimal: str = "."  # "." or ","; polars parses "," with decimal_comma, as training read the table

    @property
    def decimal_comma(self) -> bool:
        return self.decimal == ","

    def numbers(self, text: pl.Series) -> tuple[pl.Series, pl.Series]:
        """``(float32 values, missing)`` of a text column: parsed as the CSV reader parses this layout's numbers."""
        return parse_numbers(text, self.na_values, self.decimal, pl.Float32)

    def read_name(self, i: int) -> str:
        """Column ``i`` as the file names it (``names`` holds it after --rename)."""
        return self.file_names[i] if self.file_names else self.names[i]

    @property
    def keep_dtypes(self) -> list[pl.DataType]:
        """Pass-through columns keep their types (Parquet); from a CSV they are text."""
        return [self.dtypes[i] if self.dtypes else pl.String for i in self.keep_index]

    @property
    def n_columns(self) -> int:
        return len(self.names)

    @property
    def n_required(self) -> int:
        """Fields a record must have: unnamed empty columns at the end (a trailing separator) are optional."""
        named = [i for i, name in enumerate(self.names) if name] if self.has_header else [len(self.names) - 1]
        return max(named, default=len(self.names) - 1) + 1

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
        return {positional_name(i): pl.Float32 if i in self.feature_index and i not in kept else pl.String
                for i in range(self.n_columns)}

    @property
    def projection(self) -> list[str]:
        return [positional_name(i) for i in sorted({*self.feature_index, *self.keep_index, self.n_required - 1})]

    def feature_matrix(self, frame: pl.DataFrame) -> np.ndarray:
        """C-contiguous float32 [rows, features] in model order (NaN where a value did not parse)."""
        # Column by column into the row-major matrix: one copy each, on this thread. A select(...).to_numpy()
        # copies twice (column-major, then transposed) and queues on polars' thread pool, which the streaming
        # engine keeps busy: 0.6 s of a 2M-row run against 0.17 s this way.
        x = np.empty((frame.height, len(self.feature_index)), dtype=np.float32)
        for j, i in enumerate(self.feature_index):
            column = frame.get_column(positional_name(i))
            if column.dtype != pl.Float32:  # a feature that is also kept is read as text
                column = self.numbers(column)[0]
            x[:, j] = column.to_numpy()
        return x

    def doubtful(self, frame: pl.DataFrame, x: np.ndarray) -> bool:
        """NaN/inf/empty values, or a null last column (maybe a short row): only the exact path can tell."""
        if x.size and not np.isfinite(x).all():
            return True
        # A null in the last required column may be a short row.
        return bool(frame.height and frame[positional_name(self.n_required - 1)].null_count())

    def kept_columns(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Pass-through columns; an empty value, quoted or not, is null (written as an empty field), as the
        exact path, whose csv module cannot tell the two apart, has it."""
        return frame.select([pl.col(positional_name(i)).replace("", None).alias(self.names[i]) for i in self.keep_index])


def positional_name(i: int) -> str:
    return f"column_{i + 1}"  # polars' own names for headerless columns


def normalize(name: str) -> str:
    """A column name with what does not change its meaning folded away: case, surrounding space, space vs _."""
    return re.sub(r"[\s_]+", "_", name.strip().casefold())


def _quote_list(names: list[str], limit: int = 5) -> str:
    return capped(names, limit)


def _check_present(wanted: list[str], names: list[str], what: str, source: str) -> None:
    present = set(names)
    missing = list(dict.fromkeys(n for n in wanted if n not in present))  # in the order asked for, once each
    if not missing:
        return
    raise InputError(f"missing {len(missing)} {what}: {_quote_list(missing)}.{_suggest(missing, names, wanted)}",
                     source, 1)


def _suggest(missing: list[str], names: list[str], wanted: list[str]) -> str:
    # Suggest only columns that are not wanted already: those are spoken for.
    candidates = {normalize(n): n for n in names if n not in wanted}
    hints = []
    for name in missing[:5]:
        close = difflib.get_close_matches(normalize(name), list(candidates), n=1, cutoff=0.75)
        if close:
            hints.append(f"{candidates[close[0]]!r} for {name!r}")
    return f" Did you mean {', '.join(hints)}?" if hints else ""


def match_features(names: list[str], feature_names: list[str], aliases: dict[str, list[str]], source: str
                   ) -> list[int]:
    """The header column of every feature: its exact name first, else the one column whose name (or one of the
    feature's aliases) matches up to case, spaces/underscores and surrounding space. Never a guess between two."""
    exact = {name: i for i, name in enumerate(names)}
    taken = {exact[f] for f in feature_names if f in exact}
    by_normal: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        if i not in taken:
            by_normal.setdefault(normalize(name), []).append(i)
    found: dict[str, int] = {}
    missing = []
    for feature in feature_names:
        if feature in exact:
            found[feature] = exact[feature]
            continue
        spellings = [feature, *aliases.get(feature, [])]
        candidates = sorted({i for s in spellings for i in by_normal.get(normalize(s), [])})
        if len(candidates) > 1:
            raise InputError(f"feature {feature!r} matches {len(candidates)} columns: "
                             f"{_quote_list([names[i] for i in candidates])}; the scorer will not guess. Pass "
                             f"--rename to say which one is {feature!r} (or drop the other).", source, 1)
        if candidates:
            found[feature] = candidates[0]
        else:
            missing.append(feature)
    if missing:
        hint = _suggest(missing, names, feature_names) or \
            " Pass --rename 'your name=model name' for columns named differently."
        raise InputError(f"missing {len(missing)} feature columns the model needs: {_quote_list(missing)}.{hint}",
                         source, 1)
    claimed: dict[int, list[str]] = {}
    for feature, i in found.items():
        claimed.setdefault(i, []).append(feature)
    for i, features in claimed.items():
        if len(features) > 1:
            raise InputError(f"column {names[i]!r} matches the features {_quote_list(features)}; pass --rename to "
                             "say which one it is.", source, 1)
    return [found[f] for f in feature_names]


def apply_renames(names: list[str], rename: dict[str, str], source: str) -> list[str]:
    """Header names after ``--rename old=new``: every old name must be a column."""
    unknown = [old for old in rename if old not in names]
    if unknown:
        raise InputError(f"--rename names {_quote_list(unknown)}, which the header does not have.{_suggest(unknown, names, [])}",
                         source, 1)
    return [rename.get(name, name) for name in names]


def _check_unique(names: list[str], source: str) -> None:
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(names, start=1):
        if name:  # unnamed columns (a trailing separator) are never matched, so they may repeat
            seen.setdefault(name, []).append(i)
    dupes = {n: cols for n, cols in seen.items() if len(cols) > 1}
    if dupes:
        detail = "; ".join(f"{_quote_list([n])} in columns {_numbers(c)}" for n, c in sorted(dupes.items())[:5])
        more = f" and {len(dupes) - 5} more names" if len(dupes) > 5 else ""
        raise InputError(f"duplicate column names: {detail}{more}. Column names must be unique.", source, 1)


def _numbers(columns: list[int], limit: int = 5) -> str:
    shown = ", ".join(map(str, columns[:limit]))
    return shown + (f" and {len(columns) - limit} more" if len(columns) > limit else "")


def _check_single_field(fields: list[str], separator: str, source: str) -> None:
    """A header read as one field that holds another separator was read with the wrong separator."""
    from contract.text import SEPARATORS

    others = [s for s in SEPARATORS if s != separator and len(fields) == 1 and s in fields[0]]
    if others:
        shown = "tab" if others[0] == "\t" else repr(others[0])
        raise InputError(f"the header is one field, {fields[0][:60]!r}, which contains {shown}: the file seems to use "
                         f"{shown} as separator, not {separator!r}. Pass --sep {shown}.", source, 1)


def resolve_layout(first_fields: list[str], feature_names: list[str], source: str, has_header: bool = True,
                   keep: list[str] | None = None, keep_all: bool = False, *,
                   aliases: dict[str, list[str]] | None = None, rename: dict[str, str] | None = None,
                   separator: str = ",", na_values: tuple[str, ...] = (), decimal: str = ".",
                   id_columns: tuple[str, ...] = ()) -> Layout:
    """Match columns by name (header) or position (headerless: features are the last columns)."""
    n_features = len(feature_names)
    if has_header:
        names = apply_renames([n.strip() for n in first_fields], rename or {}, source)
        _check_unique(names, source)
        _check_single_field(first_fields, separator, source)
        features = match_features(names, feature_names, aliases or {}, source)
        default_keep = _default_keep(names, id_columns)
    else:
        if len(first_fields) < n_features:
            raise InputError(f"expected at least {n_features} columns (the model's features, last), "
                             f"found {len(first_fields)}", source, 1)
        names = [f"column_{i}" for i in range(1, len(first_fields) + 1)]
        features = list(range(len(names) - n_features, len(names)))
        default_keep = names[: len(names) - n_features]
    if keep_all:
        keep_names = [n for n in names if n]
    elif keep is not None:
        _check_present(keep, names, "--keep columns", source)
        keep_names = list(dict.fromkeys(keep))
    else:
        keep_names = default_keep
    clash = [n for n in keep_names if n in OUTPUT_COLUMNS]
    if clash:
        raise InputError(f"kept column {clash[0]!r} has the name of an output column; "
                         f"rename it or leave it out of --keep", source, 1)
    position = {name: i for i, name in reversed(list(enumerate(names)))}  # the first column of each name
    return Layout(source, tuple(names), tuple(features), tuple(position[n] for n in keep_names), has_header,
                  separator, na_values=tuple(na_values), decimal=decimal)


def _default_keep(names: list[str], id_columns: tuple[str, ...]) -> list[str]:
    """The model's id columns that the input has (matched as features are, up to case and spaces), else a
    column named ``id``."""
    wanted = {normalize(c) for c in id_columns}
    ids = [n for n in names if n and normalize(n) in wanted]
    return ids or [n for n in names if normalize(n) == "id"][:1]


def rename_option(text: str) -> dict[str, str]:
    """``--rename old=new,old2=new2`` as a mapping (names with commas or '=' go in --rename-file)."""
    pairs = [item for item in text.split(",") if item.strip()]
    if not all("=" in item for item in pairs):
        raise argparse.ArgumentTypeError(f"expected OLD=NEW pairs separated by commas, got {text!r}")
    return {old.strip(): new.strip() for old, new in (item.split("=", 1) for item in pairs)}


def load_renames(path: str | None) -> dict[str, str]:
    """Renames from a JSON object ``{"old": "new"}`` or a CSV with two columns (old, new; a header is optional)."""
    if path is None:
        return {}
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ScoringError(f"Cannot read --rename-file {path}: {exc.strerror}.") from None
    if text.lstrip().startswith("{"):
        try:
            mapping = json.loads(text)
        except ValueError as exc:
            raise ScoringError(f"--rename-file {path}: expected a JSON object of old: new names, got {exc}.") from None
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
            raise ScoringError(f"--rename-file {path}: expected string names on both sides.")
        return mapping
    rows = [row for row in csv.reader(text.splitlines()) if row]
    if rows and [c.strip().lower() for c in rows[0]] in (["old", "new"], ["from", "to"]):
        rows = rows[1:]
    bad = next((i for i, row in enumerate(rows, start=1) if len(row) != 2), None)
    if bad is not None:
        raise ScoringError(f"--rename-file {path}: expected two fields (old,new) on every line, see row {bad}.")
    return {old.strip(): new.strip() for old, new in rows}
