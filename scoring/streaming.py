"""The fast path for plain CSV files: polars' streaming engine parses and writes, we score each morsel.

The output may be CSV or Parquet (polars' sink_parquet).

Anything unusual in the input (a bad value, a ragged row, a blank line) makes it decline; the caller then
runs the block pipeline, which either reports the exact line and column or scores the file itself. A
failed write is not a doubt about the input: it is raised as the OSError it is.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from scoring.io.layout import Layout
from scoring.io.output import Outputs, os_errno
from scoring.timing import Stages

COMPRESSED = (".gz", ".bz2")
#: OSErrors that only a write can cause; anything else polars raises is treated as a doubt.
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})


class Declined(Exception):
    """The streaming path cannot vouch for this input; use the block pipeline."""


class Stopped(Exception):
    """Raised in polars' threads to end the query when the caller is interrupted."""


def eligible(source: str, output: str, has_header: bool, on_error: str) -> bool:
    """Plain files on both ends, a header, and stop-at-first-error: the common case."""
    ends = (source, output)
    return (has_header and on_error == "stop" and "-" not in ends
            and not any(str(p).lower().endswith(COMPRESSED) for p in ends) and Path(source).is_file())


def score_streaming(source: str, target: Path, layout: Layout, outputs: Outputs,
                    predict: Callable[[np.ndarray, Callable], tuple], stages: Stages,
                    on_rows: Callable[[int, int], None], output_format: str = "csv") -> None:
    """Stream the CSV ``source`` to ``target`` (written as ``output_format``);
    ``predict(x, check) -> (probability, label)`` calls ``check()``
    before each inference call (it raises Stopped once we are interrupted); ``on_rows(rows, positives)``.

    polars runs in a helper thread while this thread waits in Python, where signal handlers run: a
    KeyboardInterrupt (Ctrl-C, or SIGTERM turned into one) stops the query before its next inference call.
    """
    stop, busy = threading.Event(), _Busy()

    def check() -> None:
        if stop.is_set():
            raise Stopped

    def score(frame: pl.DataFrame) -> pl.DataFrame:
        with busy:
            check()
            with stages("convert"):
                x = layout.feature_matrix(frame)
            if layout.doubtful(frame, x):
                raise Declined  # an empty/NaN/inf value, a short row or a blank line: let the exact path decide
            with stages("infer"):
                probability, label = predict(x, check)
            on_rows(len(label), int(label.sum()))
            return outputs.frame(layout.kept_columns(frame), probability, label)

    query = _scan(source, layout).map_batches(score, schema=outputs.schema(layout), streamable=True)
    sink = query.sink_parquet if output_format == "parquet" else query.sink_csv
    failure = _run_interruptibly(lambda: sink(target), stop, busy)
    if failure is None:
        return
    if isinstance(failure, OSError) and os_errno(failure) in WRITE_ERRNOS:
        raise failure
    raise Declined from failure  # a parse error, our doubt, or anything else: the exact path decides


def _scan(source: str, layout: Layout) -> pl.LazyFrame:
    """The needed columns, named by position (column_1, ...) as ``layout`` reads them."""
    lazy = pl.scan_csv(source, has_header=False, skip_rows=1, separator=layout.separator, schema=layout.polars_schema)
    return lazy.select(layout.projection)


class _Busy:
    """Counts morsels being scored, so that we can wait until none is."""

    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()

    def __enter__(self) -> None:
        with self._changed:
            self._count += 1

    def __exit__(self, *exc: object) -> None:
        with self._changed:
            self._count -= 1
            self._changed.notify_all()

    def wait_idle(self) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._count == 0)


def _run_interruptibly(run: Callable[[], object], stop: threading.Event, busy: _Busy) -> BaseException | None:
    """Run ``run`` in a thread; its exception, or None. An exception in this thread (a signal handler's)
    sets ``stop``, waits for ``run`` to notice, and propagates.

    polars returns at its first error while other morsels may still be in our callback (in the model):
    we set ``stop`` and wait for them, so that nothing runs the model after we return (at interpreter
    exit that would abort the process).
    """
    failure: list[BaseException] = []

    def target() -> None:
        try:
            run()
        except BaseException as exc:  # handed to the waiting thread
            failure.append(exc)

    thread = threading.Thread(target=target, name="polars-sink", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            # Wake up now and then: a signal delivered to one of polars' or the model's threads does not
            # interrupt this wait, and its handler runs only when this thread runs Python again.
            thread.join(0.05)
    finally:
        stop.set()
        thread.join()
        busy.wait_idle()
    return failure[0] if failure else None
