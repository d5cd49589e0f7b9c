"""The fast path for plain CSV files: polars' streaming engine parses and writes, we score each morsel.

Anything unusual (a bad value, a ragged row, a blank line) makes it decline; the caller then runs the
block pipeline, which either reports the exact line and column or scores the file itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from scoring.layout import Layout
from scoring.output import Outputs
from scoring.timing import Stages

COMPRESSED = (".gz", ".bz2")


class Declined(Exception):
    """The streaming path cannot vouch for this input; use the block pipeline."""


def eligible(source: str, output: str, has_header: bool, on_error: str) -> bool:
    """Plain files on both ends, a header, and stop-at-first-error: the common case."""
    ends = (source, output)
    return (has_header and on_error == "stop" and "-" not in ends
            and not any(str(p).lower().endswith(COMPRESSED) for p in ends) and Path(source).is_file())


def score_streaming(source: str, target: Path, layout: Layout, outputs: Outputs,
                    predict: Callable[[np.ndarray], tuple], stages: Stages, on_rows: Callable[[int, int], None]) -> None:
    """Stream ``source`` to ``target``; ``predict(x) -> (probability, label)``; ``on_rows(rows, positives)``."""
    def score(frame: pl.DataFrame) -> pl.DataFrame:
        with stages("convert"):
            x = layout.feature_matrix(frame)
        if layout.doubtful(frame, x):
            raise Declined  # an empty/NaN/inf value, a short row or a blank line: let the exact path decide
        with stages("infer"):
            probability, label = predict(x)
        on_rows(len(label), int(label.sum()))
        return outputs.frame(layout.kept_columns(frame), probability, label)

    out_schema = outputs.schema(layout.keep_names)
    try:
        lazy = pl.scan_csv(source, has_header=False, skip_rows=1, separator=layout.separator,
                           schema=layout.polars_schema)
        lazy.select(layout.projection).map_batches(score, schema=out_schema, streamable=True).sink_csv(target)
    except Exception as exc:  # polars wraps the UDF's exception; parse errors are ComputeErrors
        raise Declined from exc
