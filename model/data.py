"""WDBC loading (bundled copy, or a UCI-format file/URL), feature names and the tutorial's split."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from model.errors import DataError

_BASE_FEATURES = (
    "radius", "texture", "perimeter", "area", "smoothness",
    "compactness", "concavity", "concave_points", "symmetry", "fractal_dimension",
)
_STATISTICS = ("mean", "ste", "largest")

#: The 30 feature names in model order: every other module reads them from here or from an artifact.
FEATURE_NAMES: tuple[str, ...] = tuple(f"{f}_{s}" for s in _STATISTICS for f in _BASE_FEATURES)
#: Column layout of UCI's headerless ``wdbc.data``.
UCI_COLUMNS: tuple[str, ...] = ("id", "diagnosis", *FEATURE_NAMES)
#: Label meaning, recorded with every artifact.
LABEL_MEANING = {0: "benign (B)", 1: "malignant (M)"}
#: The bundled source's name in reports.
BUNDLED = "sklearn.datasets.load_breast_cancer"


@dataclass(frozen=True)
class Split:
    """Train and test rows as float32 matrices and {0,1} labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    train_index: np.ndarray
    test_index: np.ndarray


def load_wdbc(source: str | Path | None = None) -> pd.DataFrame:
    """Load the 569 WDBC rows as ``id, diagnosis, label, <30 features>``.

    ``source=None`` uses the copy bundled with scikit-learn (same rows and order as UCI's
    ``wdbc.data``; it carries no patient ids, so ``id`` is the 1-based row number). Otherwise
    ``source`` is a path or URL of a headerless UCI-format file.
    """
    if source is None:
        return _load_bundled()
    return _load_uci(source)


def _load_bundled() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    frame = pd.DataFrame(bunch.data, columns=list(FEATURE_NAMES))
    # scikit-learn's target is 0 = malignant; the tutorial's label is 1 = malignant.
    label = 1 - bunch.target.astype(np.int64)
    frame.insert(0, "label", label)
    frame.insert(0, "diagnosis", np.where(label == 1, "M", "B"))
    frame.insert(0, "id", np.arange(1, len(frame) + 1, dtype=np.int64))
    return frame


def _load_uci(source: str | Path) -> pd.DataFrame:
    try:
        raw = pd.read_csv(source, header=None, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise DataError(f"WDBC data file not found: {source}. Pass an existing UCI 'wdbc.data' path or URL, or omit --data to use the bundled copy.") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"Could not read WDBC data from {source}: {exc}") from None
    if raw.shape[1] != len(UCI_COLUMNS):
        raise DataError(
            f"Expected {len(UCI_COLUMNS)} columns (id, diagnosis, {len(FEATURE_NAMES)} features) "
            f"in {source}, got {raw.shape[1]}. Is this a headerless UCI 'wdbc.data' file?"
        )
    raw.columns = list(UCI_COLUMNS)
    bad = ~raw["diagnosis"].isin(["M", "B"])
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"Expected diagnosis 'M' or 'B' in {source}, line {row + 1}, column 2, "
            f"got {raw['diagnosis'].iloc[row]!r}."
        )
    features = _parse_features(raw, source)
    frame = pd.DataFrame(features, columns=list(FEATURE_NAMES))
    frame.insert(0, "label", (raw["diagnosis"] == "M").to_numpy().astype(np.int64))
    frame.insert(0, "diagnosis", raw["diagnosis"].to_numpy())
    frame.insert(0, "id", raw["id"].to_numpy())
    return frame


def _parse_features(raw: pd.DataFrame, source: str | Path) -> np.ndarray:
    values = raw[list(FEATURE_NAMES)].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        name = FEATURE_NAMES[col]
        raise DataError(
            f"Expected a finite number for {name!r} in {source}, line {row + 1}, column {col + 3}, "
            f"got {raw[name].iloc[row]!r}."
        )
    return values


def split(frame: pd.DataFrame, frac: float = 0.75, random_state: int = 1) -> Split:
    """The tutorial's split: ``frame.sample(frac=0.75, random_state=1)`` for training, the rest for test."""
    train = frame.sample(frac=frac, random_state=random_state)
    test = frame.drop(train.index)
    return Split(
        x_train=features_of(train),
        y_train=train["label"].to_numpy(np.float32),
        x_test=features_of(test),
        y_test=test["label"].to_numpy(np.float32),
        train_index=train.index.to_numpy(),
        test_index=test.index.to_numpy(),
    )


def features_of(frame: pd.DataFrame) -> np.ndarray:
    """The feature matrix in model order, as C-contiguous float32."""
    return np.ascontiguousarray(frame[list(FEATURE_NAMES)].to_numpy(np.float32))


def fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 of the features (float64) and labels: identifies the data a model was trained on."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(frame[list(FEATURE_NAMES)].to_numpy(np.float64)).tobytes())
    digest.update(frame["label"].to_numpy(np.int64).tobytes())
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    """``python -m model.data OUT.csv [--data SOURCE]``: write the WDBC rows as a CSV with a header."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m model.data", description="Write the WDBC rows as a CSV file.")
    parser.add_argument("output", help="CSV path: id, diagnosis and the 30 features, with a header")
    parser.add_argument("--data", default=None, help="UCI-format wdbc.data path or URL (default: the bundled copy)")
    args = parser.parse_args(argv)
    try:
        frame = load_wdbc(args.data)
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        frame.drop(columns=["label"]).to_csv(args.output, index=False)
    except (DataError, OSError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(frame)} rows to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
