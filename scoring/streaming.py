"""The fast path for plain CSV files: polars' streaming engine parses and writes, we score each morsel.

Anything unusual (a bad value, a ragged row, a blank line) makes it decline; the caller then runs the
block pipeline, which either reports the exact line and column or scores the file itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from scoring.csv_stream import Layout
from scoring.runtimes import Runtime
from scoring.timing import Stages

COMPRESSED = (".gz", ".bz2")


class Declined(Exception):
    """The streaming path cannot vouch for this input; use the block pipeline."""


def eligible(source: str, output: str, has_header: bool, on_error: str) -> bool:
    """Plain files on both ends, a header, and stop-at-first-error: the common case."""
    ends = (source, output)
    return (has_header and on_error == "stop" and "-" not in ends
            and not any(str(p).lower().endswith(COMPRESSED) for p in ends) and Path(source).is_file())


def score_streaming(source: str, target: Path, layout: Layout, predict: Callable[[np.ndarray], tuple],
                    stages: Stages, on_rows: Callable[[int, int], None]) -> None:
    """Stream ``source`` to ``target``; ``predict(x) -> (probability, label)``; ``on_rows(rows, positives)``."""
    last = layout.n_columns - 1
    needed = sorted({*layout.feature_index, *layout.keep_index, last})
    kept = set(layout.keep_index)
    schema = {f"column_{i + 1}": pl.Float32 if i in layout.feature_index and i not in kept else pl.String
              for i in range(layout.n_columns)}
    features = [pl.col(f"column_{i + 1}").cast(pl.Float32) for i in layout.feature_index]
    keep = [pl.col(f"column_{i + 1}").alias(layout.names[i]) for i in layout.keep_index]

    def score(frame: pl.DataFrame) -> pl.DataFrame:
        with stages("convert"):
            x = frame.select(features).to_numpy(order="c")
        if (x.size and not np.isfinite(x).all()) or frame[f"column_{last + 1}"].null_count():
            raise Declined  # an empty/NaN/inf value, a short row or a blank line: let the exact path decide
        with stages("infer"):
            probability, label = predict(x)
        on_rows(len(label), int(label.sum()))
        return frame.select(keep).with_columns(pl.Series("probability", probability, dtype=pl.Float32),
                                               pl.Series("label", label, dtype=pl.Int64))

    out_schema = {**{layout.names[i]: pl.String for i in layout.keep_index},
                  "probability": pl.Float32, "label": pl.Int64}
    try:
        lazy = pl.scan_csv(source, has_header=False, skip_rows=1, schema=schema)
        lazy = lazy.select([f"column_{i + 1}" for i in needed])
        lazy.map_batches(score, schema=out_schema, streamable=True).sink_csv(target)
    except Exception as exc:  # polars wraps the UDF's exception; parse errors are ComputeErrors
        raise Declined from exc
