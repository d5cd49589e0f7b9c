"""Request decoding for tables: MLflow's JSON shapes and CSV to the model's float32 features, columns matched by
name with the batch scorer's rules and numbers parsed by its parser, so a row scores exactly as in a file."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import orjson

from contract.metadata import Metadata
from contract.text import BOM, sniff_separator
from scoring.errors import InputError
from scoring.io.blocks import Block
from scoring.io.layout import Layout, resolve_layout, split_fields
from scoring.io.parsing import parse_block, parse_float32, value_problem
from scoring.serve.errors import RequestError

T = TypeVar("T")

#: MLflow's /invocations JSON shapes, one per request.
SHAPES = ("dataframe_split", "dataframe_records", "instances", "inputs")
CSV_SOURCE = "CSV body"
#: Column layouts remembered (clients send the same header again and again); the cache starts over when full.
CACHED_LAYOUTS = 256


class Number(str):
    """A JSON number kept as its text: parsed later by the batch scorer's parser, so a value written as
    ``0.1`` in JSON or in a CSV gives the same float32 (through a float64 it could round differently)."""

    __slots__ = ()


class NeedsText(Exception):
    """A request whose numbers a float64 reading cannot be trusted with (or with a cell that is not a plain number):
    it is decoded again, every number kept as its text."""


def load_json(body: bytes, what: str = "the request body", exact: bool = False) -> Any:
    """Parse JSON: with orjson (numbers as float64; ten times faster than the standard library for a table of
    numbers), or ``exact``, every number kept as its text. What orjson refuses (NaN and Infinity, numbers beyond
    float64, malformed JSON) the standard library reads or explains; NaN and the like are refused later, with
    their row."""
    if not exact:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    hooks = {"parse_float": Number, "parse_int": Number, "parse_constant": Number} if exact else {}
    try:
        return json.loads(body, **hooks)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError both are
        raise RequestError(400, f"{what} is not valid JSON: {exc}.") from None


def read_json(body: bytes, decode: Callable[[Any], T], what: str = "the request body") -> T:
    """``decode`` the parsed body: first with its numbers read as float64 (fast), and where that cannot be trusted
    to give the batch scorer's float32s, again with every number as its text (``NeedsText``)."""
    try:
        return decode(load_json(body, what))
    except NeedsText:
        return decode(load_json(body, what, exact=True))


#: Where a float64 lies exactly halfway between two float32s (normal ones): the lowest 29 of its 52 fraction bits.
_HALFWAY_BITS, _LOW_BITS = np.uint64(1 << 28), np.uint64((1 << 29) - 1)
_FLOAT32_TINY, _FLOAT32_MAX = float(np.finfo(np.float32).tiny), float(np.finfo(np.float32).max)
_PLAIN = frozenset({float, int})


def fast_numbers(values: list[Any]) -> np.ndarray | None:
    """Plain JSON numbers (read as float64) as the float32s the batch scorer's parser gives their text, or None
    where the float64s cannot tell (then the text decides).

    Python reads a JSON number correctly rounded to float64, and rounding that to float32 gives the correctly
    rounded float32 of the decimal, except where the float64 landed exactly halfway between two float32s (the
    decimal may lie just off that point, and rounding twice then breaks the tie the wrong way), in float32's
    subnormal and overflow ranges, and for values that are not finite (their message quotes the text).
    """
    if not set(map(type, values)) <= _PLAIN:
        return None
    try:
        wide = np.array(values, dtype=np.float64)
    except OverflowError:  # an integer beyond float64
        return None
    size = np.abs(wide)
    halfway = (wide.view(np.uint64) & _LOW_BITS) == _HALFWAY_BITS
    if (halfway | ((size < _FLOAT32_TINY) & (size > 0)) | ~(size <= _FLOAT32_MAX)).any():  # (NaN is not <=)
        return None
    return wide.astype(np.float32)


@dataclass(frozen=True)
class Table:
    """Cells by column: ``names`` None means positional columns, the model's features in its order."""

    names: list[str] | None
    columns: list[list[Any]]
    rows: int


def _type_name(value: Any) -> str:
    return {bool: "a boolean", list: "a list", dict: "an object", type(None): "null"}.get(type(value), repr(value))


def cell_text(value: Any, row: int, column: str) -> str:
    """A feature cell as the text the parser reads: a JSON number, or a string holding one."""
    if type(value) is Number:
        return value
    if isinstance(value, str):
        return value.strip()
    if type(value) in _PLAIN:
        raise NeedsText  # a number read as float64: its text is needed
    raise RequestError(400, f"row {row}, column {column!r}: expected a number, got {_type_name(value)}.")


def parse_cells(texts: list[str], rows: int, names: list[str], na_values: tuple[str, ...] | list[str] = (),
                decimal: str = ".") -> np.ndarray:
    """Feature texts in column-major order -> C-contiguous float32 [rows, features] by the batch scorer's parser
    (with the model's missing-value spellings and decimal mark, for tables); a value that is not a finite number is
    refused with its 1-based row and its column."""
    values, missing = parse_float32(texts, na_values, decimal)
    x = np.ascontiguousarray(values.reshape(len(names), rows).T)
    if x.size and not np.isfinite(x).all():
        row = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])
        j = int(np.flatnonzero(~np.isfinite(x[row]))[0])
        k = j * rows + row
        problem = value_problem(texts[k], x[row, j], bool(missing[k]), decimal)
        raise RequestError(400, f"row {row + 1}, column {names[j]!r}: {problem}.")
    return x


class TableDecoder:
    """Turns MLflow payloads and CSV bodies into the model's features."""

    def __init__(self, info: Metadata, rename: dict[str, str] | None = None) -> None:
        self.info = info
        self.rename = dict(rename or {})
        self._layouts: dict[tuple[str, ...], Layout] = {}

    # ----------------------------------------------------------------------------------------------- columns

    def layout(self, names: list[str], source: str = "", separator: str = ",") -> Layout:
        """Where each feature is among ``names``, by the batch scorer's rules (exact name, then case, spaces vs
        underscores and the model's aliases; ``--rename`` first; extra columns ignored)."""
        key = (source, separator, *names)
        layout = self._layouts.get(key)
        if layout is None:
            # The server's renames apply where a request has the old name (requests differ; a file has one header).
            present = {name.strip() for name in names}
            rename = {old: new for old, new in self.rename.items() if old in present}
            try:
                layout = resolve_layout(names, self.info.feature_names, source, True, [], False,
                                        aliases=self.info.feature_aliases, rename=rename, separator=separator,
                                        na_values=tuple(self.info.na_values), decimal=self.info.decimal)
            except InputError as exc:
                raise RequestError(400, str(exc) if source else exc.reason) from None
            if len(self._layouts) >= CACHED_LAYOUTS:
                self._layouts.clear()
            self._layouts[key] = layout
        return layout

    def features(self, table: Table) -> np.ndarray:
        """The table's feature matrix (model order)."""
        n = len(self.info.feature_names)
        if table.names is None:
            if len(table.columns) != n and table.rows:
                raise RequestError(400, f"expected {n} values per row (the model's features in order: "
                                        f"{self.info.feature_names[0]!r}, ...), got {len(table.columns)}.")
            index, shown = list(range(n)), list(self.info.feature_names)
        else:
            index = list(self.layout(table.names).feature_index)
            shown = [table.names[i] for i in index]
        if not table.rows:
            return np.empty((0, n), np.float32)
        fast = fast_numbers(list(itertools.chain.from_iterable([table.columns[i] for i in index])))
        if fast is not None:
            return np.ascontiguousarray(fast.reshape(len(index), table.rows).T)
        texts = [cell_text(v, r, name) for i, name in zip(index, shown) for r, v in enumerate(table.columns[i], 1)]
        return parse_cells(texts, table.rows, shown, self.info.na_values, self.info.decimal)

    # ----------------------------------------------------------------------------------------------- formats

    def csv(self, body: bytes) -> np.ndarray:
        """A CSV body with a header line, parsed as the batch scorer parses a file (separator sniffed)."""
        if body.startswith(BOM):
            body = body[len(BOM):]
        first, _, rest = body.partition(b"\n")
        first = first.rstrip(b"\r")
        if not first.strip():
            raise RequestError(400, f"{CSV_SOURCE}: empty; expected a header line naming the columns, then rows.")
        separator = sniff_separator(first.decode("utf-8", "replace"))
        try:
            layout = self.layout(split_fields(first, CSV_SOURCE, 1, separator), CSV_SOURCE, separator)
            parsed = parse_block(Block(rest, 2), layout)
        except InputError as exc:
            raise RequestError(400, str(exc)) from None
        if parsed.rejects:
            r = parsed.rejects[0]
            raise RequestError(400, str(InputError(r.reason + ".", CSV_SOURCE, r.line, r.column, r.column_number)))
        return parsed.features

    def mlflow(self, body: bytes) -> np.ndarray:
        """A JSON body in one of MLflow's shapes -> features."""
        return read_json(body, lambda payload: self.features(mlflow_table(payload)))


def mlflow_table(payload: Any) -> Table:
    """``dataframe_split``, ``dataframe_records``, ``instances`` or ``inputs`` (MLflow's /invocations shapes)."""
    if not isinstance(payload, dict):
        raise RequestError(400, f"expected a JSON object with one of the keys {', '.join(SHAPES)}; got "
                                f"{_type_name(payload) if not isinstance(payload, str) else 'a string'}.")
    keys = [k for k in payload if k in SHAPES]
    if "params" in payload:
        raise RequestError(400, "this model takes no params; send only the rows.")
    unknown = [k for k in payload if k not in SHAPES]
    if len(keys) != 1 or unknown:
        got = ", ".join(map(repr, payload)) or "an empty object"
        raise RequestError(400, f"expected exactly one of the keys {', '.join(SHAPES)}; got {got}.")
    key = keys[0]
    value = payload[key]
    if key == "dataframe_split":
        return _split(value)
    if key == "dataframe_records":
        return _records(_list(value, key))
    if key == "inputs" and isinstance(value, dict):
        return _columnar(value)
    return _rows_or_records(_list(value, key), key)


def _list(value: Any, key: str) -> list[Any]:
    if not isinstance(value, list):
        raise RequestError(400, f"expected {key!r} to be a list of rows, got {_type_name(value)}.")
    return value


def _names(columns: Any, where: str) -> list[str]:
    if not isinstance(columns, list) or not set(map(type, columns)) <= {str}:  # (a Number is a number, not a name)
        raise RequestError(400, f"expected {where} to be a list of column names (strings).")
    return columns


def _rows(data: list[Any], width: int, what: str) -> list[list[Any]]:
    """Row-major cells -> columns, every row checked for its width."""
    for r, row in enumerate(data, 1):
        if not isinstance(row, list):
            raise RequestError(400, f"row {r}: expected a list of values, got {_type_name(row)}.")
        if len(row) != width:
            raise RequestError(400, f"row {r}: expected {width} values ({what}), got {len(row)}.")
    return [list(column) for column in zip(*data)] if data else [[] for _ in range(width)]


def _split(value: Any) -> Table:
    if not isinstance(value, dict) or "data" not in value:
        raise RequestError(400, "expected 'dataframe_split' to be an object with 'columns' and 'data'.")
    data = _list(value["data"], "dataframe_split.data")
    if "columns" not in value:
        width = len(data[0]) if data and isinstance(data[0], list) else 0
        return Table(None, _rows(data, width, "as in row 1"), len(data))
    names = _names(value["columns"], "'dataframe_split.columns'")
    return Table(names, _rows(data, len(names), "one per column"), len(data))


def _records(records: list[Any]) -> Table:
    names: dict[str, None] = {}
    for r, record in enumerate(records, 1):
        if not isinstance(record, dict):
            raise RequestError(400, f"row {r}: expected an object of column: value, got {_type_name(record)}.")
        names.update(dict.fromkeys(record))
    columns = [[record.get(name) for record in records] for name in names]
    return Table(list(names), columns, len(records))


def _rows_or_records(rows: list[Any], key: str) -> Table:
    if rows and isinstance(rows[0], dict):
        return _records(rows)
    width = len(rows[0]) if rows and isinstance(rows[0], list) else 0
    if rows and not isinstance(rows[0], list):
        raise RequestError(400, f"expected {key!r} to hold rows (lists of values in the model's feature order, or "
                                f"objects of column: value), got {_type_name(rows[0])} in row 1.")
    return Table(None, _rows(rows, width, "as in row 1"), len(rows))


def _columnar(value: dict[str, Any]) -> Table:
    """``{"inputs": {"column": [values...], ...}}``: MLflow's (and TF Serving's) columnar format."""
    columns = [v if isinstance(v, list) else [v] for v in value.values()]
    lengths = {len(c) for c in columns}
    if len(lengths) > 1:
        sizes = ", ".join(f"{name!r}: {len(c)}" for name, c in list(zip(value, columns))[:5])
        raise RequestError(400, f"expected every column of 'inputs' to hold as many values; got {sizes}.")
    return Table(list(value), columns, lengths.pop() if lengths else 0)
