"""The fast path for plain CSV files: polars' streaming engine parses and writes, we score each morsel.

The output may be CSV or Parquet (polars' sink_parquet).

Only two named reasons make it decline: our own doubt about a morsel (an empty/NaN/inf value, a short row,
a blank line) and polars' CSV parse errors (a bad number, a ragged row, a stray quote, bytes that are not
UTF-8); the caller then runs the block pipeline, which either reports the exact line and column or scores
the file itself. A failed write is not a doubt about the input: it is raised as the OSError it is. Anything
else (a bug in our callback, a schema polars refuses, a panic) is raised as it is, never hidden by a fallback.
"""

from __future__ import annotations

import errno
import mmap
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from contract.errors import first_line
from scoring.io.layout import Layout
from scoring.io.output import Outputs, os_errno
from scoring.timing import Stages

COMPRESSED = (".gz", ".bz2")
#: OSErrors that only a write can cause: raised as they are (as is anything else not named below).
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})
#: How polars (2.1) words its CSV parse errors, raised as ComputeError: a value that is not a number (or a
#: quote that runs on into the next fields: the value spans lines), more fields than the header, bad UTF-8;
#: and as SchemaError: a first data line with fewer fields than the header (a blank line, a short row).
#: Reworded in a later polars, they are raised instead of declined: loud, and the tests say so.
PARSE_ERRORS = re.compile(r"could not parse `.*` as dtype `|found more fields than defined in 'Schema'"
                          r"|invalid utf-8 sequence|column names specified in schema not found in CSV file",
                          re.DOTALL)
PARSE_ERROR_TYPES = (pl.exceptions.ComputeError, pl.exceptions.SchemaError)


class Declined(Exception):
    """The streaming path cannot vouch for this input (``reason``: "doubt: ..." or "parse: ..."); use the block
    pipeline."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Stopped(Exception):
    """Raised in polars' threads to end the query when the caller is interrupted."""


def eligible(source: str, output: str, has_header: bool, on_error: str, max_record: int | None = None) -> bool:
    """Plain files on both ends, a header, and stop-at-first-error: the common case. Not a file that may hold a line
    of ``max_record`` bytes or more: polars would hold several copies of it before any check of ours (1 GB for a
    256 MiB row), where the block pipeline stops at its line."""
    ends = (source, output)
    return (has_header and on_error == "stop" and "-" not in ends
            and not any(str(p).lower().endswith(COMPRESSED) for p in ends) and Path(source).is_file()
            and (max_record is None or not may_hold_a_line_of(source, max_record)))


def may_hold_a_line_of(path: str, size: int) -> bool:
    """Whether some line of the file may be ``size`` bytes or longer: a window of size/2 bytes with no line end in it
    (any such line covers a whole one). A few memchr calls over the mapped file, each stopping at the window's first
    line end: 14 for a 438 MiB file at the default 64 MiB, whatever its rows."""
    step = max(size // 2, 1)
    with open(path, "rb") as handle:
        length = os.fstat(handle.fileno()).st_size
        if length < step:
            return False
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return any(mapped.find(b"\n", start, start + step) == -1 for start in range(0, length - step + 1, step))


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
    raised: list[BaseException] = []  # what our callback raised (polars re-raises the very object)

    def check() -> None:
        if stop.is_set():
            raise Stopped

    def score(frame: pl.DataFrame) -> pl.DataFrame:
        with busy:
            try:
                check()
                with stages("convert"):
                    x = layout.feature_matrix(frame)
                if layout.doubtful(frame, x):
                    raise Declined(f"doubt: {_doubt(x)}")  # let the exact path decide
                with stages("infer"):
                    probability, label = predict(x, check)
                on_rows(len(label), int(label.sum()))
                return outputs.frame(layout.kept_columns(frame), probability, label)
            except BaseException as exc:
                raised.append(exc)
                raise

    query = _scan(source, layout).map_batches(score, schema=outputs.schema(layout), streamable=True)
    sink = query.sink_parquet if output_format == "parquet" else query.sink_csv
    failure = _run_interruptibly(lambda: sink(target), stop, busy)
    if failure is None:
        return
    if isinstance(failure, OSError) and os_errno(failure) in WRITE_ERRNOS:
        raise failure
    ours = next((exc for exc in _chain(failure) if any(exc is r for r in raised)), None)
    if isinstance(ours, Declined):
        raise ours
    if ours is None and isinstance(failure, PARSE_ERROR_TYPES) and PARSE_ERRORS.match(str(failure)):
        raise Declined(f"parse: {first_line(failure)[:200]}") from failure
    raise failure  # a bug (ours, if it came out of our callback) or polars' own failure: not the input's fault


def _doubt(x: np.ndarray) -> str:
    """Why ``Layout.doubtful`` said so, for the reason only."""
    if x.size and not np.isfinite(x).all():
        return "an empty, NaN or infinite feature value (or a short row, a blank line)"
    return "an empty last column (maybe a short row)"


def _chain(exc: BaseException | None) -> list[BaseException]:
    """``exc`` and what it was raised from or during, in case polars ever wraps what our callback raised."""
    seen: list[BaseException] = []
    while exc is not None and not any(exc is s for s in seen):
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _scan(source: str, layout: Layout) -> pl.LazyFrame:
    """The needed columns, named by position (column_1, ...) as ``layout`` reads them."""
    lazy = pl.scan_csv(source, has_header=False, skip_rows=1, separator=layout.separator, schema=layout.polars_schema,
                       decimal_comma=layout.decimal_comma)
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
