"""score_csv(...) and the CLI ``python -m scoring.batch IN OUT``: stream a CSV through the model."""

from __future__ import annotations

import argparse
import collections
import contextlib
import functools
import gc
import io
import itertools
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # the CLI (set before numpy loads): we never multiply matrices with numpy, and
    # OpenBLAS's idle threads would spin on the cores polars and the model need
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402 (after the environment above)
import polars as pl

from contract.artifacts import resolve_model
from contract.cli import add_standard_options, honour_verbose
from contract.errors import ToolkitError
from contract.metadata import Metadata
from contract.temporaries import remove_stale
from contract.text import sniff_separator
from scoring import streaming
from scoring.errors import InputError, OutputError, ScoringError
from scoring.io.blocks import MAX_BLOCK_BYTES, Block, first_record, iter_blocks
from scoring.io.layout import Columns, Layout, resolve_layout, split_fields
from scoring.io.output import (
    AtomicOutput,
    Outputs,
    check_output_format,
    empty_output,
    is_stdout,
    outputs_for,
    remove_unfinished,
    streamed,
    write_rejects,
    write_scored,
)
from scoring.io.parquet import (
    ParquetWriter,
    check_rows,
    file_format,
    open_parquet,
    parquet_layout,
    row_batches,
)
from scoring.io.parsing import Parsed, Reject, parse_block
from scoring.io.sources import Source, read_first_line
from scoring.options import DEFAULT_MAX_RECORD_BYTES, ScoreOptions, add_score_arguments, usable_cores
from scoring.progress import RowsAsBytes, bytes_per_record, progress_bar
from scoring.runtimes import Runtime, load_runtime
from scoring.signals import Interrupted, deferred, stop_on_signals
from scoring.timing import UNTIMED, Stages


@dataclass
class Summary:
    """What a scoring run did; ``line()`` is the CLI's closing line."""

    source: str
    output: str
    runtime: str
    rows: int = 0
    positives: int = 0
    rejected: int = 0
    seconds: float = 0.0
    rejects_path: str | None = None
    stages: dict[str, float | str] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        rejects = f", {self.rejected:,} rejected -> {self.rejects_path}" if self.rejects_path else ""
        return (f"scored {self.rows:,} rows ({self.positives:,} positive{rejects}) in {self.seconds:.2f} s, "
                f"{self.rows_per_second:,.0f} rows/s [{self.runtime}] -> {self.output}")


@dataclass
class Scored:
    """One scored block: what to write, and the rows that were rejected."""

    kept: pl.DataFrame
    probability: np.ndarray
    label: np.ndarray
    rejects: list[Reject] = field(default_factory=list)


@dataclass
class Written:
    """One scored block as CSV rows (no header) or a frame, ready to append: made on a worker, written in input order."""

    text: bytes
    rows: int
    positives: int
    rejects: list[Reject]
    frame: pl.DataFrame | None = None  # instead of text, for a Parquet output


def score_parsed(parsed: Parsed, layout: Layout, runtime: Runtime, threshold: float | None, on_error: str,
                 batch_rows: int, stages: Stages = UNTIMED) -> Scored:
    """Apply the error policy to a parsed block of records, then run the model on its good rows."""
    if parsed.rejects and on_error == "stop":
        raise parsed.rejects[0].error(layout.source)
    with stages("infer"):
        probability, label = predict(runtime, parsed.features, threshold, batch_rows)
    return Scored(parsed.kept, probability, label, parsed.rejects)


def predict(runtime: Runtime, x: np.ndarray, threshold: float | None, batch_rows: int,
            check: Callable[[], None] = lambda: None) -> tuple[np.ndarray, np.ndarray]:
    """One inference call per ``batch_rows`` rows, each after ``check()`` (which may raise to stop);
    ``threshold`` overrides the model's own label."""
    outputs = []
    for i in range(0, len(x), batch_rows):
        check()
        outputs.append(runtime.predict(x[i : i + batch_rows]))
    if not outputs:
        return np.empty(0, np.float32), np.empty(0, np.int64)
    probability = np.concatenate([o["probability"] for o in outputs])
    if threshold is None:
        label = np.concatenate([o["label"] for o in outputs]).astype(np.int64, copy=False)
    else:
        label = (probability > np.float32(threshold)).astype(np.int64)
    return probability, label


def check_distinct(source: str | Path, output: str | Path, rejects: str | Path | None) -> None:
    """Never write the output (or the rejects) over the input: that would lose the data being read. Files are
    compared by path and by device and inode, so a second path to the input (a bind mount, a hard link) and stdout
    appended to it (``scoring.batch in.csv - >> in.csv``) are caught."""
    ends = {"input": source, "output": output, "rejects": rejects}
    paths = {role: Path(p).resolve() for role, p in ends.items() if p is not None and str(p) != "-"}
    files = {role: found for role, p in ends.items() if p is not None and (found := _regular_file(p, role)) is not None}
    for group in (paths, files):
        seen: dict[object, str] = {}
        for role, key in group.items():
            if key in seen:
                same = ("stdout" if str(ends[r]) == "-" else str(ends[r]) for r in (seen[key], role))
                raise ScoringError(f"The {seen[key]} and the {role} are the same file ({' and '.join(same)}); writing "
                                   f"the {role} would destroy the {seen[key]}. Choose another {role} path.")
            seen[key] = role


def _regular_file(path: str | Path, role: str) -> tuple[int, int] | None:
    """(device, inode) of the regular file ``path`` names (stdin or stdout for ``-``), or None."""
    try:
        if str(path) == "-":
            st = os.fstat((sys.stdin if role == "input" else sys.stdout).fileno())
        else:
            st = os.stat(path)
    except (OSError, ValueError):  # absent, or a std stream without a descriptor (pytest's capture)
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None


def default_rejects(output: str | Path) -> str:
    return f"{output}.rejects.csv"


def open_blocks(src: Source, info: Metadata, columns: Columns, batch_rows: int,
                max_record: int = DEFAULT_MAX_RECORD_BYTES) -> tuple[Layout, Iterator[Block]]:
    """Read the first line, match the columns, and stream the rest in blocks of about ``batch_rows`` rows
    (at most MAX_BLOCK_BYTES, so one very long row cannot make the whole file one block; a record over
    ``max_record`` bytes is an error)."""
    first, rest = read_first_line(src)
    header = columns.header
    separator = columns.sep or sniff_separator(first.decode("utf-8", "replace"))
    pending = rest if header else first + b"\n" + rest
    sample = pending.split(b"\n", 1)[0] if pending else first
    row_bytes = max(len(sample) + 1, 2)  # a size estimate only: blocks always end on a record boundary
    blocks = iter_blocks(src, pending, 2 if header else 1, min(batch_rows * row_bytes, MAX_BLOCK_BYTES), max_record)
    if not header:  # the first record sets the width, and a quoted field may take it past the first line
        block = next(blocks)
        blocks, first = itertools.chain([block], blocks), first_record(block.data)
    layout = resolve_layout(split_fields(first, src.name, 1, separator), info.feature_names, src.name, header,
                            columns.keep, columns.keep_all, aliases=info.feature_aliases, rename=columns.rename,
                            separator=separator, na_values=columns.na_values, decimal=columns.decimal,
                            id_columns=columns.id_columns)
    return layout, blocks


def score_csv(source: str | Path, output: str | Path, options: ScoreOptions | None = None, *,
              runtime: str | Runtime | None = None, **fields: Any) -> Summary:
    """Score ``source`` into ``output`` (atomically) with ``options``, or with ScoreOptions' fields given as
    keywords (``model=``, ``keep=``, ``on_error=``, ...). ``runtime``: "onnx", "tf", a loaded Runtime, or None
    to follow ``model``. With ``on_error="skip"`` bad rows go to ``rejects`` (default ``<output>.rejects.csv``).
    Either end may be CSV or Parquet: by the file name (``.parquet``, ``.pq``) or ``input_format``/``output_format``.

    ``engine="auto"`` streams plain CSV files through polars' streaming engine and falls back to the block
    pipeline for everything else (stdin, compressed files, --no-header, --on-error skip, any bad row, Parquet
    input); ``engine="blocks"`` always uses the block pipeline. Both give byte-identical output.
    """
    output = "-" if is_stdout(output) else output
    loaded = None if runtime is None or isinstance(runtime, str) else runtime
    if loaded is None:
        fields["runtime"] = runtime if runtime is not None else (options.runtime if options else None)
    o = (options or ScoreOptions()).with_(**fields) if fields else (options or ScoreOptions())
    formats = check_formats(source, output, o.input_format, o.output_format, o.header, o.sep)
    rt = loaded or load_runtime(resolve_model(o.model, o.runtime), o.threads, o.verify)
    rejects = o.rejects
    if o.on_error == "skip" and rejects is None:
        if str(output) == "-":
            raise ScoringError("--on-error skip with output '-' needs --rejects PATH for the rejected rows.")
        rejects = default_rejects(output)
    check_distinct(source, output, rejects)
    if not streamed(output):  # a killed --on-error skip run's rejects temporary, also when this run does not skip
        remove_stale(Path(os.path.realpath(default_rejects(output))))
    # Values are read as the training table was (its missing-value spellings, its decimal mark) unless overridden.
    info = rt.info
    columns = Columns(o.header, o.sep, dict(o.rename), o.keep, o.keep_all,
                      tuple(info.na_values) if o.na_values is None else tuple(o.na_values), o.decimal or info.decimal,
                      tuple(info.id_columns))
    options = _Options(rt, o.threshold, o.batch_rows, columns, outputs_for(rt.info, o.label_values), o.on_error,
                       o.progress, *formats, max_record=o.max_record_bytes)
    summary = Summary(str(source), str(output), rt.name, rejects_path=str(rejects) if rejects else None)
    # Parquet input always takes the block pipeline (row groups read by pyarrow): polars' scan_parquet reads
    # ahead of a slower consumer, and its peak memory grew with the file (784 MiB at 2M rows, 1,178 MiB at 6M).
    if o.engine == "auto" and options.input_format == "csv" and not streamed(output) and \
            streaming.eligible(str(source), str(output), o.header, o.on_error, o.max_record_bytes):
        try:
            return _score_streaming(source, output, options, summary)
        except streaming.Declined:
            summary = Summary(str(source), str(output), rt.name)  # start over, exactly
    return _score_blocks(source, output, rejects, options, summary)




def check_formats(source: str | Path, output: str | Path, input_format: str, output_format: str, header: bool,
                  sep: str | None) -> tuple[str, str]:
    """``(input format, output format)``; the CSV-only options and ends that Parquet cannot have are refused."""
    fmt_in, fmt_out = file_format(source, input_format), file_format(output, output_format)
    if fmt_in == "parquet":
        if str(source) == "-":
            raise ScoringError("Parquet input must be a file: its footer is read first, so it cannot come from "
                               "stdin. Save it to a file, or send CSV on stdin.")
        if not header or sep is not None:
            raise ScoringError(f"{'--no-header' if not header else '--sep'} is for CSV input; {source} is read as "
                               "Parquet (columns by name from its schema).")
    name = str(output).lower()
    if name.endswith(tuple(f"{suffix}{c}" for suffix in (".parquet", ".pq") for c in (".gz", ".bz2"))) or (
            fmt_out == "parquet" and name.endswith((".gz", ".bz2"))):  # x.parquet.gz wrote a gzipped CSV
        raise ScoringError(f"Parquet output {output} would be compressed twice; Parquet compresses inside the file "
                           "(snappy/zstd), so drop the .gz/.bz2 suffix.")
    return fmt_in, fmt_out


@dataclass(frozen=True)
class _Options:
    runtime: Runtime
    threshold: float | None
    batch_rows: int
    columns: Columns
    outputs: Outputs
    on_error: str
    progress: bool
    input_format: str = "csv"
    output_format: str = "csv"
    max_record: int = DEFAULT_MAX_RECORD_BYTES


def _checked_layout(layout: Layout, o: _Options) -> Layout:
    check_output_format(layout, o.output_format)
    if o.outputs.class_column in layout.keep_names:
        raise InputError(f"kept column {o.outputs.class_column!r} has the name of the --label-values output column; "
                         "leave it out of --keep", layout.source, 1 if layout.kind == "csv" else None)
    return layout


@dataclass
class _Input:
    """What the block pipeline reads: the layout, work items, how a worker parses one, and how far it got."""

    layout: Layout
    items: Iterator[Any]
    parse: Callable[[Any, Stages], Parsed]
    size: int | None
    position: Callable[[], int] | None  # bytes read so far, where they are known
    per_record: float = 1.0  # bytes per record, to move a bytes bar by rows where ``position`` is not known
    unit: str = "line"


@contextlib.contextmanager
def _open_input(source: str | Path, o: _Options) -> Iterator[_Input]:
    if o.input_format == "parquet":
        with deferred():
            parquet = open_parquet(source)
            layout = _checked_layout(parquet_layout(parquet, str(source), o.runtime.info, o.columns), o)
        size = os.path.getsize(source)
        yield _Input(layout, row_batches(parquet, layout, o.batch_rows), lambda batch, st: check_rows(batch, layout, st),
                     size, None, size / max(parquet.metadata.num_rows, 1), unit="row")
        return
    with Source(source) as src:
        layout, blocks = open_blocks(src, o.runtime.info, o.columns, o.batch_rows, o.max_record)
        _checked_layout(layout, o)
        yield _Input(layout, blocks, lambda block, st: parse_block(block, layout, st), src.size,
                     src.position if src.size else None)


def _score_streaming(source: str | Path, output: str | Path, o: _Options, summary: Summary) -> Summary:
    started, stages = time.perf_counter(), Stages()
    with Source(source) as src:
        opened = _version(src.name)
        layout, _ = open_blocks(src, o.runtime.info, o.columns, o.batch_rows)
    _checked_layout(layout, o)
    counted = threading.Lock()  # polars calls on_rows from several threads at once
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(AtomicOutput(output, by_name=True))
        bar = stack.enter_context(progress_bar(os.path.getsize(source))) if o.progress else None
        moved = RowsAsBytes(bar, bytes_per_record(source)) if bar is not None else None

        def on_rows(rows: int, positives: int) -> None:
            with counted:
                summary.rows += rows
                summary.positives += positives
            if moved is not None:
                moved.add(rows)

        with out.writing():
            streaming.score_streaming(str(source), out.path, layout, o.outputs,
                                      lambda x, check: predict(o.runtime, x, o.threshold, o.batch_rows, check),
                                      stages, on_rows, o.output_format)
        if moved is not None:
            moved.finish()
        if _version(str(source)) != opened:  # polars read a file that was being written: neither version's scores
            raise InputError(f"changed while it was read: {opened[0]:,} bytes when opened, "
                             f"{_version(str(source))[0]:,} now; score a copy that nothing is writing to", str(source))
        out.commit(stages)
    summary.seconds = time.perf_counter() - started
    summary.stages = {**stages.as_dict(), "engine": "polars-streaming"}
    return summary


def _version(path: str) -> tuple[int, int]:
    """What tells a file apart from itself after a write: its size and modification time."""
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def _score_blocks(source: str | Path, output: str | Path, rejects: str | Path | None, o: _Options,
                  summary: Summary) -> Summary:
    started, stages = time.perf_counter(), Stages()
    with contextlib.ExitStack() as stack:
        into = stack.enter_context(_open_input(source, o))
        out = stack.enter_context(AtomicOutput(output))
        reject_out = stack.enter_context(AtomicOutput(rejects)) if rejects else None
        bar = stack.enter_context(progress_bar(into.size)) if o.progress else None
        moved = RowsAsBytes(bar, into.per_record) if bar is not None and into.size and not into.position else None
        if reject_out:
            with reject_out.writing():
                write_rejects(reject_out.handle, [], header=True, unit=into.unit)
        parquet_out = None
        # polars and pyarrow run in this thread here, turning numpy arrays into columns: a signal is raised after
        # them (raised inside their callbacks it makes them panic instead of unwinding).
        with out.writing(), deferred():  # the header alone (a header-only input gives a header-only output)
            if o.output_format == "parquet":
                parquet_out = ParquetWriter(out.handle, o.outputs.schema(into.layout))
                stack.callback(parquet_out.abandon)  # runs before the output is discarded
            else:
                write_scored(out.handle, o.outputs, empty_output(into.layout), np.empty(0, np.float32),
                             np.empty(0, np.int64), header=True)
        work = functools.partial(_score_item, parse=into.parse, layout=into.layout, o=o, stages=stages)
        results = stack.enter_context(contextlib.closing(_in_parallel(into.items, work, stages)))
        for written in results:
            with stages("write"), out.writing(), deferred():
                if parquet_out is not None:
                    parquet_out.write(written.frame)
                else:
                    out.handle.write(written.text)
            summary.rows += written.rows
            summary.positives += written.positives
            summary.rejected += len(written.rejects)
            if reject_out:
                with reject_out.writing():
                    write_rejects(reject_out.handle, written.rejects, header=False, unit=into.unit)
            if moved is not None:
                moved.add(written.rows + len(written.rejects))
            elif bar is not None:
                bar.update((into.position() if into.position else summary.rows) - bar.n)
        if parquet_out is not None:
            with stages("write"), out.writing(), deferred():
                parquet_out.close()
        if moved is not None:
            moved.finish()
        if reject_out:
            reject_out.commit(stages)
        out.commit(stages)
    summary.seconds = time.perf_counter() - started
    summary.stages = {**stages.as_dict(), "engine": "blocks"}
    return summary


def _score_item(item: Any, parse: Callable[[Any, Stages], Parsed], layout: Layout, o: _Options,
                stages: Stages) -> Written:
    """Parse, score and serialize one block (CSV text, or a frame for the Parquet writer), on a worker thread."""
    scored = score_parsed(parse(item, stages), layout, o.runtime, o.threshold, o.on_error, o.batch_rows, stages)
    rows, positives = len(scored.label), int(scored.label.sum())
    with stages("serialize"):
        if o.output_format == "parquet":
            return Written(b"", rows, positives, scored.rejects, o.outputs.frame(scored.kept, scored.probability,
                                                                                  scored.label))
        text = io.BytesIO()
        write_scored(text, o.outputs, scored.kept, scored.probability, scored.label, header=False)
    return Written(text.getvalue(), rows, positives, scored.rejects)


def _in_parallel(blocks: Iterator[Any], work: Callable[[Any], Written], stages: Stages) -> Iterator[Written]:
    """``work(block)`` for every block on one worker thread per core, results in input order.

    This thread reads the blocks and the caller appends the results to the output, while the workers parse,
    score and turn them into CSV text: polars, onnxruntime and TensorFlow release the GIL, so the stages
    overlap on every core. At most two
    blocks per worker are in flight (memory stays bounded); errors surface in order, from ``result()``.
    On any exception (a bad row, Ctrl-C) queued blocks are cancelled and running ones finish before
    this returns, so nothing runs the model afterwards.
    """
    workers = usable_cores()
    pending: collections.deque[Future[Written]] = collections.deque()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="score")
    try:
        while True:
            with stages("read"):
                block = next(blocks, None)
            if block is None:
                break
            pending.append(pool.submit(work, block))
            if len(pending) > 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scoring.batch",
        description="Score a CSV or Parquet file with the exported model (onnxruntime or TensorFlow), streaming.",
    )
    parser.add_argument("input",
                        help="CSV file (.gz/.bz2 ok), - for stdin, or a .parquet file")
    parser.add_argument("output",
                        help="output CSV or .parquet file (written atomically), or - for stdout")
    add_score_arguments(parser)
    parser.add_argument("--rejects", default=None,
                        help="rejects file for --on-error skip (default: OUT.rejects.csv)")
    add_standard_options(parser, tensorflow=True)
    return parser


def _identity(path: str) -> tuple[int, ...] | None:
    """What tells a file apart from its replacement (the rename brings a new inode)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size


def interrupted_message(exc: Interrupted, output: str, before: tuple[int, ...] | None) -> str:
    """What became of OUT, told from the file itself: absent, the previous one, or (a signal that came
    after the rename) the new one."""
    if output == "-":
        return f"Interrupted ({exc.name}): the output on stdout is incomplete."
    after = _identity(output)
    if after is None:
        return f"Interrupted ({exc.name}): {output} was not written."
    if after == before:
        return f"Interrupted ({exc.name}): {output} was not written; the previous file is unchanged."
    return f"Interrupted ({exc.name}) after {output} was written."


def load_for_cli(options: ScoreOptions) -> Runtime:
    """The CLI's model, after the cheap checks. What loading creates (modules, the session) lives until exit,
    so the collector is off meanwhile and those objects are frozen after: later collections skip them."""
    gc.disable()
    try:
        return load_runtime(resolve_model(options.model, options.runtime), options.threads, options.verify)
    finally:
        gc.freeze()
        gc.enable()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    honour_verbose(args)
    args.output = "-" if is_stdout(args.output) else args.output
    before = None if args.output == "-" else _identity(args.output)
    try:
        with stop_on_signals():
            options = ScoreOptions.from_args(args, progress=not args.quiet and sys.stderr.isatty())
            summary = score_csv(args.input, args.output, options, runtime=load_for_cli(options))
    except ToolkitError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        if isinstance(exc, OutputError) and args.output == "-":
            _silence_stdout()
        return 2
    except KeyboardInterrupt as exc:
        interrupted = exc if isinstance(exc, Interrupted) else Interrupted(signal.SIGINT)
        remove_unfinished()  # a temporary the signal caught between its creation and its writer's clean-up
        print(interrupted_message(interrupted, args.output, before), file=sys.stderr)
        return interrupted.exit_code
    if not args.quiet:
        print(summary.line(), file=sys.stderr)
    return 0


def _silence_stdout() -> None:
    """stdout is gone (a closed pipe): point it at /dev/null so the exit-time flush adds no second error."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


if __name__ == "__main__":
    code = main()
    if code in (Interrupted(signal.SIGINT).exit_code, Interrupted(signal.SIGTERM).exit_code):
        # Stop now, as asked: with TensorFlow loaded the interpreter's final garbage collection takes ~3 s.
        # Everything of ours is closed and removed already.
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
