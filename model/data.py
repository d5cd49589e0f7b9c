"""The training data: which columns are features and label, checked, as a float32 matrix; the split."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from contract.errors import first_line
from contract.numbers import parse_numbers
from model import wdbc
from model.config import MISSING, DataSpec
from model.errors import DataError
from model.tables import Table, read_table

#: Label values that need no --positive: the second of each pair is class 1.
_OBVIOUS = ({"0", "1"}, {"false", "true"})


@dataclass(frozen=True)
class Labels:
    """The label column and which of its two values is class 1."""

    column: str
    positive: Any
    negative: Any
    meaning: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return {"label_column": self.column, "positive_class": self.positive, "negative_class": self.negative,
                "label_meaning": self.meaning}


@dataclass(frozen=True)
class Dataset:
    """Checked rows: features (float32, model order) and labels (float32 0/1), with what was noticed."""

    x: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    labels: Labels
    source: str
    notes: dict[str, Any] = field(default_factory=dict)
    wdbc: bool = False  # the bundled copy or UCI's wdbc.data: the tutorial's table
    na_values: tuple[str, ...] = ()  # how the table spells a missing value (the scorer reads it the same way)
    decimal: str = "."

    @property
    def aliases(self) -> dict[str, list[str]]:
        """Other names of the features, where they are known (WDBC's), for the scorer's column matching."""
        return {n: wdbc.ALIASES[n] for n in self.feature_names if n in wdbc.ALIASES}


@dataclass(frozen=True)
class Split:
    """Train and test rows as float32 matrices and {0,1} labels, with their row numbers in the table."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    train_index: np.ndarray
    test_index: np.ndarray
    method: str


@dataclass(frozen=True)
class TrainingData:
    """A checked table and its split: everything training needs, read before TensorFlow loads."""

    dataset: Dataset
    rows: Split


def load_training_data(spec: DataSpec = DataSpec()) -> TrainingData:
    """Read and check ``spec``'s table (and its --test table), and split it: every data error is raised here."""
    dataset = load_dataset(spec)
    if spec.test_path is None:
        return TrainingData(dataset, split(dataset, spec.test_fraction, spec.stratify))
    test_table = read_table(spec.test_path, spec.sep, spec.fmt, spec.na_values, spec.decimal)
    return TrainingData(dataset, separate_test(dataset, prepare(test_table, spec, like=dataset)))


def check_folds(data: TrainingData, folds: int) -> None:
    """``--l2 cv`` needs ``folds`` training rows of each class."""
    for cls, value in ((1, data.dataset.labels.positive), (0, data.dataset.labels.negative)):
        count = int((data.rows.y_train == cls).sum())
        if count < folds:
            raise DataError(f"--l2 cv with {folds} folds needs at least {folds} training rows of each class; "
                            f"class {value!r} has {count}. Pass a smaller --cv-folds, or a number for --l2.")


def load_dataset(spec: DataSpec = DataSpec()) -> Dataset:
    """Read ``spec.path`` (or the bundled WDBC copy), pick label and features, and check every value."""
    if spec.missing not in MISSING:
        raise DataError(f"--missing must be one of {list(MISSING)}, got {spec.missing!r}.")
    table = Table(wdbc.load_bundled(), wdbc.BUNDLED, "bundled") if spec.path is None else \
        read_table(spec.path, spec.sep, spec.fmt, spec.na_values, spec.decimal)
    return prepare(table, spec)


def prepare(table: Table, spec: DataSpec, like: Dataset | None = None) -> Dataset:
    """Label, features and values of ``table`` checked. ``like`` (the training data, for a --test table) fixes
    the features and the two label values, of which a test table may hold only one."""
    frame, rows = _drop_blank_rows(table.frame)
    if frame.height == 0:
        raise DataError(f"{table.source}: the table has a header but no data rows.")
    is_wdbc = table.kind in ("bundled", "uci")
    label_column = _label_column(table, spec, is_wdbc)
    names = like.feature_names if like is not None else spec.features
    ids = like.notes.get("id_columns", []) if like is not None else _id_columns(table, frame, label_column, spec)
    features, skipped = (list(names), []) if names else _auto_features(table, frame, label_column, ids, spec)
    twice = sorted({n for n in features if features.count(n) > 1})
    if twice:
        raise DataError(f"--features names {_quote(twice)} more than once.")
    _check_exist(table, [*features, *spec.exclude], "columns")
    if label_column in features:
        raise DataError(f"{table.source}: the label column {label_column!r} cannot also be a feature; "
                        "leave it out of --features.")
    if not features:
        raise DataError(f"{table.source}: no numeric feature columns besides the label; pass --features.")
    x, missing = _feature_matrix(table, frame, rows, features, spec)
    keep, dropped = _complete_rows(table, frame, rows, missing, label_column, spec.missing)
    column = frame[label_column].filter(keep)
    if like is None:
        labels, y = _labels(table, column, rows[keep], spec, is_wdbc)
    else:
        labels, y = like.labels, _labels_like(table, column, rows[keep], like.labels)
    if not keep.all():
        x = x[keep]
    constant = [n for n, column in zip(features, x.T) if column.size and column.min() == column.max()]
    notes = {"rows_read": int(table.frame.height), "rows_dropped_missing": dropped, "constant_columns": constant,
             "skipped_non_numeric_columns": skipped, "id_columns": ids}
    return Dataset(np.ascontiguousarray(x), y, tuple(features), labels, table.source, notes, is_wdbc,
                   tuple(spec.na_values), spec.decimal)


def _drop_blank_rows(frame: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray]:
    """polars reads a blank CSV line as a row of nulls; drop those, remembering every row's place in the file."""
    rows = np.arange(frame.height)
    blank = frame.select(pl.all_horizontal(pl.all().is_null())).to_series().to_numpy() if frame.width else None
    if blank is None or not blank.any():
        return frame, rows
    return frame.filter(~pl.Series(blank)), rows[~blank]


def _label_column(table: Table, spec: DataSpec, is_wdbc: bool) -> str:
    if spec.label is None and is_wdbc:
        return wdbc.LABEL_COLUMN
    if spec.label is None:
        binary = [c for c in table.frame.columns if table.frame[c].drop_nulls().n_unique() == 2]
        hint = f" Columns with two values: {_quote(binary)}." if binary else ""
        raise DataError(f"{table.source}: which column is the label? Pass --label COLUMN.{hint}")
    _check_exist(table, [spec.label], "label column")
    return spec.label


#: A column name that says "identifier": id, customer_id, Customer ID, patient.id, CustomerID, customerId; R's row
#: names. Not paid, valid or fluid.
_ID_NAME = re.compile(r"(?i:(.*[\s_.\-])?id)|.*[a-z](ID|Id)|rownames|Unnamed: 0")
#: A text column whose values are (nearly) all different names its rows: names, codes, keys.
_ID_DISTINCT = 0.99


def _id_columns(table: Table, frame: pl.DataFrame, label: str, spec: DataSpec) -> list[str]:
    """The columns that identify rows, never features: --id, else those named like an id or holding distinct text."""
    if spec.id_column is not None:
        _check_exist(table, [spec.id_column], "--id column")
        return [spec.id_column]
    ids = []
    for name in frame.columns:
        if name == label or name in spec.exclude or (spec.features and name in spec.features):
            continue
        column = frame[name]
        if _ID_NAME.fullmatch(name.strip()) or (column.dtype == pl.String and _distinct_text(column, spec)):
            ids.append(name)
    return ids


def _distinct_text(column: pl.Series, spec: DataSpec) -> bool:
    text = column.drop_nulls()
    numbers = max(_parse_share(column, spec, "."), _parse_share(column, spec, ","))  # either decimal mark
    return text.len() >= 2 and text.n_unique() >= _ID_DISTINCT * text.len() and numbers < 0.5


def _auto_features(table: Table, frame: pl.DataFrame, label: str, ids: list[str], spec: DataSpec
                   ) -> tuple[list[str], list[str]]:
    """Every numeric column except the label, the ids and --exclude; text columns are skipped (and reported),
    unless their values are numbers in another spelling (a decimal comma) or mostly numbers: those are errors."""
    left_out = {label, *ids, *spec.exclude}
    features, skipped = [], []
    for name in frame.columns:
        column = frame[name]
        if name in left_out or (column.null_count() == column.len() and not name.strip()):
            continue  # an unnamed, empty column is what a trailing separator on every line makes
        if column.dtype == pl.String:
            _check_decimal_comma(table, frame, name, spec)
            if _parse_share(column, spec) < 0.5:
                skipped.append(name)
                continue
        features.append(name)
    return features, skipped


def _parse_share(column: pl.Series, spec: DataSpec, decimal: str | None = None) -> float:
    """The share of a text column's present (not missing) values that are numbers."""
    values, missing = parse_numbers(column, spec.na_values, decimal or spec.decimal, pl.Float64)
    present = values.filter(~missing)
    return float(present.is_not_null().mean()) if present.len() else 0.0


def _check_decimal_comma(table: Table, frame: pl.DataFrame, name: str, spec: DataSpec) -> None:
    """A text column that is numbers once "," is read as the decimal mark is an error, never a skipped column."""
    column = frame[name]
    if spec.decimal == "," or _parse_share(column, spec, ",") < 0.5 or _parse_share(column, spec) >= 0.5:
        return  # not numbers either way, or numbers already (a stray comma is the value's own error)
    sample = next(v for v in column.str.strip_chars().drop_nulls() if "," in v)
    raise DataError(f"{table.source}, column {frame.columns.index(name) + 1} ({name!r}): its values look like numbers "
                    f"with a decimal comma, such as {sample!r}, and would be skipped as text. Pass --decimal , to read "
                    f"them as numbers (the usual European export, with ';' between fields), or --exclude "
                    f"{_cli_name(name)} to leave the column out.")


def _numeric(table: Table, frame: pl.DataFrame, rows: np.ndarray, name: str, spec: DataSpec) -> np.ndarray:
    """A feature column as float64 (NaN where missing); a value that is not a number is an error with its line."""
    column = frame[name]
    if column.dtype == pl.String:
        values, missing = parse_numbers(column, spec.na_values, spec.decimal, pl.Float64)
        bad = (values.is_null() & ~missing).to_numpy()
        if bad.any():
            raise DataError(_not_a_number(table, frame, rows, name, bad, spec))
        column = values
    elif not (column.dtype.is_numeric() or column.dtype == pl.Boolean):
        raise DataError(f"{table.source}: column {name!r} has type {column.dtype}, expected numbers. "
                        f"Leave it out with --exclude {_cli_name(name)}.")
    values = column.cast(pl.Float64).fill_null(np.nan).to_numpy()
    infinite = np.abs(values) > np.finfo(np.float32).max  # beyond float32 (1e39) would train on inf
    if infinite.any():
        row = int(np.flatnonzero(infinite)[0])
        raise DataError(f"{table.where(int(rows[row]))}, column {frame.columns.index(name) + 1} ({name!r}): "
                        f"expected a finite number{'' if np.isinf(values[row]) else ' within float32 range (+-3.4e38)'}, "
                        f"got {values[row]:g}.")
    return values


def _not_a_number(table: Table, frame: pl.DataFrame, rows: np.ndarray, name: str, bad: np.ndarray,
                  spec: DataSpec) -> str:
    """Where a mostly numeric column holds something else, how often, and the fixes: a missing-value spelling
    (with --missing drop), the decimal mark, the value itself, or leaving the column out."""
    row = int(np.flatnonzero(bad)[0])
    value = frame[name][row].strip()
    count, present = int(bad.sum()), int(frame[name].str.strip_chars().replace("", None).drop_nulls().len())
    others = f" ({count:,} values in this column are not numbers)" if count > 1 else ""
    if spec.decimal == "." and parse_numbers(pl.Series([value]), (), ",", pl.Float64)[0][0] is not None:
        fix = "Pass --decimal , if the column uses a decimal comma"
    elif count < present / 2:  # mostly numbers: the odd one out is often a missing-value marker
        fix = (f"If {value!r} marks a missing value, list it with --na-values (e.g. --na-values "
               f"'NA,N/A,NaN,null,?,{value}') and pass --missing drop; else fix the value")
    else:
        fix = "Fix the value"
    return (f"{table.where(int(rows[row]))}, column {frame.columns.index(name) + 1} ({name!r}): expected a number, "
            f"got {frame[name][row]!r}{others}. {fix}, or leave the column out with --exclude {_cli_name(name)}.")


def _feature_matrix(table: Table, frame: pl.DataFrame, rows: np.ndarray, features: list[str], spec: DataSpec
                    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The float32 matrix, filled one column at a time (a million-row table never exists in float64 at once),
    and the rows where each column has no value."""
    x = np.empty((frame.height, len(features)), np.float32)
    missing = {}
    for j, name in enumerate(features):
        column = _numeric(table, frame, rows, name, spec)
        x[:, j] = column
        absent = np.isnan(column)
        if absent.any():
            missing[name] = absent
    return x, missing


def _complete_rows(table: Table, frame: pl.DataFrame, rows: np.ndarray, missing: dict[str, np.ndarray],
                   label: str, policy: str) -> tuple[np.ndarray, dict[str, int]]:
    """Rows with every feature and the label present; missing ones are an error unless ``policy == 'drop'``."""
    missing = dict(missing)
    missing[label] = frame[label].is_null().to_numpy()
    counts = {name: int(m.sum()) for name, m in missing.items() if m.any()}
    if not counts:
        return np.ones(frame.height, dtype=bool), {}
    if policy == "error":
        parts = [f"{name!r} {n} row{'s' * (n > 1)} (first at {_line(table, rows, missing[name])})"
                 for name, n in sorted(counts.items(), key=lambda kv: -kv[1])[:5]]
        more = f" and {len(counts) - 5} more columns" if len(counts) > 5 else ""
        raise DataError(f"{table.source}: missing values in {len(counts)} column{'s' * (len(counts) > 1)}: "
                        f"{', '.join(parts)}{more}. Pass --missing drop to train on the complete rows, "
                        "or fill them in.")
    keep = ~np.logical_or.reduce(list(missing.values()))
    if not keep.any():
        raise DataError(f"{table.source}: every row has a missing value; nothing is left to train on.")
    return keep, {"rows": int((~keep).sum()), "per_column": counts}


def _line(table: Table, rows: np.ndarray, mask: np.ndarray) -> str:
    """``line N`` (or ``row N``) of the first row in ``mask``; the source's own name may contain ", "."""
    return table.where(int(rows[int(np.flatnonzero(mask)[0])])).removeprefix(f"{table.source}, ")


def _labels(table: Table, column: pl.Series, rows: np.ndarray, spec: DataSpec, is_wdbc: bool
            ) -> tuple[Labels, np.ndarray]:
    """Exactly two label values; which one is class 1 is obvious (0/1, false/true) or given by --positive."""
    counts = column.value_counts(sort=True)
    values = counts[column.name].to_list()
    where = f"{table.source}, label column {column.name!r}"
    if len(values) != 2:
        listed = ", ".join(f"{v!r} ({n} row{'s' * (n > 1)}, first at {_line(table, rows, (column == v).to_numpy())})"
                           for v, n in zip(values[:5], counts["count"].to_list()))
        more = f" and {len(values) - 5} more" if len(values) > 5 else ""
        raise DataError(f"{where}: expected exactly two classes, found {len(values)}: {listed}{more}. "
                        "Only binary classification is supported.")
    positive = _positive_value(values, spec.positive or (wdbc.POSITIVE if is_wdbc else None), where)
    negative = next(v for v in values if v != positive)
    y = (column == positive).to_numpy().astype(np.float32)
    meaning = wdbc.CLASS_MEANING if is_wdbc else {}
    labels = Labels(column.name, positive, negative,
                    {"0": _described(negative, meaning), "1": _described(positive, meaning)})
    return labels, y


def _labels_like(table: Table, column: pl.Series, rows: np.ndarray, labels: Labels) -> np.ndarray:
    """A test table's labels: only the training table's two values (either may be absent)."""
    known = {_text(labels.positive), _text(labels.negative)}
    texts = column.map_elements(_text, return_dtype=pl.String) if column.dtype != pl.String else column
    unknown = ~texts.is_in(list(known)).to_numpy()
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise DataError(f"{table.where(int(rows[row]))}, label column {column.name!r}: expected one of the training "
                        f"table's values {_quote(sorted(known))}, got {column[row]!r}.")
    return (texts == _text(labels.positive)).to_numpy().astype(np.float32)


def _positive_value(values: list[Any], wanted: str | None, where: str) -> Any:
    texts = [_text(v) for v in values]
    if wanted is not None:
        if wanted not in texts:
            raise DataError(f"{where}: --positive {wanted!r} is not one of its values {_quote(texts)}.")
        return values[texts.index(wanted)]
    lowered = [t.lower() for t in texts]
    for pair in _OBVIOUS:
        if set(lowered) == pair:
            return values[lowered.index(sorted(pair)[1])]
    raise DataError(f"{where}: found the values {_quote(sorted(texts))}; pass --positive VALUE to say which one "
                    "is class 1 (the class whose probability the model gives).")


def _text(value: Any) -> str:
    """A label value as the user would type it: true, 1 (also for 1.0), M."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _described(value: Any, meaning: dict[str, str]) -> str:
    return f"{meaning[value]} ({value})" if value in meaning else str(value)


def _check_exist(table: Table, names: list[str], what: str) -> None:
    columns = table.frame.columns
    missing = [n for n in dict.fromkeys(names) if n not in columns]
    if not missing:
        return
    hints = [f"{close[0]!r} for {n!r}" for n in missing[:5]
             if (close := difflib.get_close_matches(n, columns, n=1, cutoff=0.6))]
    hint = f" Did you mean {', '.join(hints)}?" if hints else f" It has {_quote(columns)}."
    raise DataError(f"{table.source}: no {what} {_quote(missing)}.{hint}")


def _quote(names: list[Any], limit: int = 5) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _cli_name(name: str) -> str:
    return name if name.replace("_", "").isalnum() else repr(name)


def split(data: Dataset, test_fraction: float = 0.25, stratify: bool = False, seed: int = 1) -> Split:
    """The tutorial's split by default: ``frame.sample(frac=0.75, random_state=1)`` trains, the rest tests.

    ``stratify`` keeps the class ratio in both parts (scikit-learn's ``train_test_split``).
    """
    n = len(data.y)
    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"--test-fraction must be between 0 and 1, got {test_fraction}.")
    _check_class_sizes(data, 2, "to split into training and test rows")
    if stratify:
        from sklearn.model_selection import train_test_split

        try:
            train, test = train_test_split(np.arange(n), test_size=test_fraction, stratify=data.y,
                                           random_state=seed)
        except ValueError as exc:  # e.g. fewer test rows than classes
            raise DataError(f"{data.source}: cannot split {n} rows with --stratify and --test-fraction "
                            f"{test_fraction}: {first_line(exc)}") from None
        method = f"stratified: sklearn train_test_split(test_size={test_fraction}, random_state={seed})"
    else:
        # What pandas' frame.sample(frac, random_state) draws (RandomState.choice without replacement), without
        # importing pandas for it.
        train = np.random.RandomState(seed).choice(n, size=round((1 - test_fraction) * n), replace=False)
        test = np.setdiff1d(np.arange(n), train)
        method = f"frame.sample(frac={1 - test_fraction:g}, random_state={seed}); test = the remaining rows"
    if len(np.unique(data.y[train])) < 2:
        raise DataError(f"{data.source}: the training rows hold only one class; pass --stratify to keep both "
                        "classes in each part, or use more rows.")
    return Split(np.ascontiguousarray(data.x[train]), data.y[train], np.ascontiguousarray(data.x[test]),
                 data.y[test], train, test, method)


def separate_test(train: Dataset, test: Dataset) -> Split:
    """Every row of ``train`` trains and every row of ``test`` (a table of its own, ``--test``) tests."""
    _check_class_sizes(train, 1, "to train")
    if len(np.unique(train.y)) < 2:
        raise DataError(f"{train.source}: the training rows hold only one class.")
    return Split(train.x, train.y, test.x, test.y, np.arange(len(train.y)), np.arange(len(test.y)),
                 f"all rows of {train.source} train; all rows of {test.source} test")


def _check_class_sizes(data: Dataset, at_least: int, purpose: str) -> None:
    for value, cls in ((data.labels.positive, 1), (data.labels.negative, 0)):
        count = int((data.y == cls).sum())
        if count < at_least:
            raise DataError(f"{data.source}: class {value!r} has {count} row{'s' * (count != 1)}; at least "
                            f"{at_least} of each class are needed {purpose}.")


def fingerprint(data: Dataset) -> str:
    """SHA-256 of the feature names, the float32 features and the labels: names the data a model saw."""
    digest = hashlib.sha256(json.dumps(list(data.feature_names)).encode())
    digest.update(np.ascontiguousarray(data.x).tobytes())
    digest.update(data.y.astype(np.uint8).tobytes())
    return digest.hexdigest()


def class_balance(labels: Labels, y: np.ndarray) -> dict[str, int]:
    """Rows of each class in ``y`` (0/1), by the class's value."""
    return {str(labels.positive): int((y == 1).sum()), str(labels.negative): int((y == 0).sum())}


def main(argv: list[str] | None = None) -> int:
    """``python -m model.data OUT.csv [--data SOURCE]``: write a table (default: WDBC) as a CSV with a header."""
    import argparse
    import sys

    from contract.cli import add_standard_options

    parser = argparse.ArgumentParser(prog="python -m model.data", description="Write the WDBC rows as a CSV file.")
    parser.add_argument("output",
                        help="CSV path: id, diagnosis and the 30 features, with a header")
    parser.add_argument("--data", default=None,
                        help="UCI-format wdbc.data path or URL (default: the bundled copy)")
    add_standard_options(parser)
    args = parser.parse_args(argv)
    try:
        frame = wdbc.load_bundled() if args.data is None else read_table(args.data).frame
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        frame.write_csv(args.output)
    except (DataError, OSError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {frame.height} rows to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
