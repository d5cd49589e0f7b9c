"""The default dataset, WDBC: its feature names, the names other copies use, and its two loaders."""

from __future__ import annotations

import numpy as np
import polars as pl

_BASE_FEATURES = (
    "radius", "texture", "perimeter", "area", "smoothness",
    "compactness", "concavity", "concave_points", "symmetry", "fractal_dimension",
)
_STATISTICS = ("mean", "ste", "largest")

#: The tutorial's 30 feature names (its ``concave_poinits`` typo fixed), in model order.
FEATURE_NAMES: tuple[str, ...] = tuple(f"{f}_{s}" for s in _STATISTICS for f in _BASE_FEATURES)
#: Column layout of UCI's headerless ``wdbc.data``.
UCI_COLUMNS: tuple[str, ...] = ("id", "diagnosis", *FEATURE_NAMES)
LABEL_COLUMN = "diagnosis"
POSITIVE, NEGATIVE = "M", "B"
#: What the classes mean, recorded with every artifact of a WDBC model.
CLASS_MEANING = {NEGATIVE: "benign", POSITIVE: "malignant"}
#: The bundled source's name in reports.
BUNDLED = "sklearn.datasets.load_breast_cancer"


def _aliases(feature: str, statistic: str) -> list[str]:
    """The names two widely shared copies give a feature: the Kaggle CSV's and scikit-learn's frame's."""
    words = feature.replace("_", " ")
    kaggle = feature.replace("concave_points", "concave points") + "_" + {"mean": "mean", "ste": "se",
                                                                           "largest": "worst"}[statistic]
    sklearn = {"mean": f"mean {words}", "ste": f"{words} error", "largest": f"worst {words}"}[statistic]
    return [name for name in (kaggle, sklearn) if name != f"{feature}_{statistic}"]


#: Other names of each feature; the export records them so that any scorer can match those columns too.
ALIASES: dict[str, list[str]] = {
    f"{f}_{s}": _aliases(f, s) for s in _STATISTICS for f in _BASE_FEATURES
}


def load_bundled() -> pl.DataFrame:
    """The 569 rows bundled with scikit-learn as ``id, diagnosis, <30 features>``.

    The same rows in the same order as UCI's ``wdbc.data``; they carry no patient ids, so ``id`` is the
    1-based row number. scikit-learn's target is 0 = malignant, so the diagnosis is M where it is 0.
    """
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    features = pl.DataFrame(np.asarray(bunch.data, np.float64), schema=list(FEATURE_NAMES), orient="row")
    diagnosis = np.where(bunch.target == 0, POSITIVE, NEGATIVE)
    ids = pl.Series("id", np.arange(1, len(diagnosis) + 1, dtype=np.int64))
    return features.insert_column(0, pl.Series(LABEL_COLUMN, diagnosis)).insert_column(0, ids)


def looks_like_uci(fields: list[str]) -> bool:
    """A headerless ``wdbc.data`` line: an integer id, M or B, then numbers (the width is checked on reading)."""
    if len(fields) < 3 or fields[1] not in (POSITIVE, NEGATIVE) or not fields[0].isdigit():
        return False
    try:
        [float(v) for v in fields[2:]]
    except ValueError:
        return False
    return True
