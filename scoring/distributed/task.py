"""The worker side: the model travels in a worker plugin; each block is scored by the single-machine scorer."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract.artifacts import ModelRef
from contract.verify import OnnxFile
from scoring.batch import score_csv
from scoring.distributed.ranges import BlockInputError, RangeTask, odd_quotes, stage_range
from scoring.distributed.rowgroups import RowGroupTask, in_file, stage_row_groups
from scoring.distributed.store import OutputStore, part_name
from scoring.errors import InputError
from scoring.options import ScoreOptions
from scoring.runtimes import load_runtime

PLUGIN_NAME = "wdbc-model"

try:  # Dask is an optional extra; without it the CLI stops earlier with an install hint.
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # pragma: no cover - exercised only without the extra
    WorkerPlugin = object


def pack_model(ref: ModelRef) -> dict[str, bytes]:
    """The model's files by relative path: an ONNX file and the files of its external weights (which the client's
    checks read too, so a job whose workers lack them cannot start), or every file of a SavedModel directory."""
    if ref.path.is_file():
        external = OnnxFile.read(ref.path).external_files()
        return {ref.path.name: ref.path.read_bytes(),
                **{name: (ref.path.parent / name).read_bytes() for name in external}}
    return {str(p.relative_to(ref.path)): p.read_bytes() for p in sorted(ref.path.rglob("*")) if p.is_file()}


class ModelPlugin(WorkerPlugin):
    """Carries the model's bytes to every worker (no shared filesystem) and loads it once per worker.

    Registered with the client, it also runs on workers that join later (a replacement for a killed one).
    """

    def __init__(self, ref: ModelRef, threads: int = 1, verify: bool = True) -> None:
        self.runtime_name, self.threads, self.verify = ref.runtime, threads, verify
        self.files = pack_model(ref)
        # Named by content: jobs with different models on one cluster never replace each other's.
        digest = hashlib.sha256(b"".join(k.encode() + v for k, v in sorted(self.files.items()))).hexdigest()
        self.name = f"{PLUGIN_NAME}-{ref.runtime}-{digest[:16]}"
        self.root = ref.path.name if ref.path.is_file() else ""
        self.runtime: Any = None
        self.directory: Path | None = None
        self.loads = self.blocks_scored = 0  # observable proof of "loaded once, used by many blocks"

    def setup(self, worker: Any) -> None:
        _quiet_input_errors()
        self.directory = Path(tempfile.mkdtemp(prefix="wdbc-model-", dir=worker.local_directory))
        for relative, data in self.files.items():
            path = self.directory / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        self.runtime = load_runtime(ModelRef(self.runtime_name, self.directory / self.root), self.threads,
                                    self.verify)
        self.loads += 1

    def teardown(self, worker: Any) -> None:
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)


class _InputErrorFilter(logging.Filter):
    """Drops the worker's "Compute Failed" report (with its traceback) of a bad row: the client reports that
    one in a line with the file and line, so on a terminal it was noise before the message. Other task
    failures are still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not (str(record.msg).startswith("Compute Failed") and len(args) > 3
                    and str(args[3]).startswith(f"{BlockInputError.__name__}("))


def _quiet_input_errors() -> None:
    logger = logging.getLogger("distributed.worker")
    if not any(isinstance(f, _InputErrorFilter) for f in logger.filters):  # once per worker process
        logger.addFilter(_InputErrorFilter())


@dataclass(frozen=True)
class JobOptions:
    """What every block task needs besides its range: where parts go, and the batch scorer's options."""

    out_dir: str
    storage_options: dict[str, Any]
    plugin: str
    score: ScoreOptions = field(default_factory=ScoreOptions)
    output_format: str = "csv"  # of the part files (and the merged file): "csv" or "parquet", resolved


def score_block(task: RangeTask | RowGroupTask, options: JobOptions) -> dict[str, Any]:
    """Worker side: score one block of a CSV (a byte range) or of a Parquet file (a run of row groups)."""
    if isinstance(task, RowGroupTask):
        return score_row_groups(task, options)
    return score_range(task, options)


def score_range(task: RangeTask, options: JobOptions) -> dict[str, Any]:
    """Worker side: the block's lines, under the file's header, through the single-machine ``score_csv``.

    The block is staged as a small CSV on the worker's local disk, so it gets the scorer's fastest path
    (polars' streaming engine) and, on a bad row, its exact line-numbered error; the part file is scored
    locally too and then published in OUT_DIR in one step.
    """
    with _block_directory(task, options) as (tmp, plugin, name):
        block, part = tmp / "block.csv", tmp / name
        started = time.perf_counter()
        start, last = stage_range(task, block, options.storage_options)
        if not task.compression and not last and odd_quotes(block, len(task.header)):
            raise BlockInputError(task, start, 1, None, None, "the block ends inside a quoted field", kind="quotes")
        staged = time.perf_counter()
        try:
            summary = _score(block, part, plugin, options)
        except InputError as exc:  # a range's staged line 1 is the header; a compressed file is staged whole
            line = exc.line or 1
            raise BlockInputError(task, start, line if task.compression else max(line - 1, 1), exc.column,
                                  exc.column_number, exc.reason) from None
        return _publish(part, name, summary, options, started, staged)


def score_row_groups(task: RowGroupTask, options: JobOptions) -> dict[str, Any]:
    """Worker side: the block's row groups (only its columns) staged as a local Parquet file, through
    ``score_csv`` as a CSV block is; a bad value is reported at its row of the whole file."""
    with _block_directory(task, options) as (tmp, plugin, name):
        block, part = tmp / "block.parquet", tmp / name
        started = time.perf_counter()
        stage_row_groups(task, block, options.storage_options)
        staged = time.perf_counter()
        try:
            summary = _score(block, part, plugin, options, staged_columns=task.columns)
        except InputError as exc:
            raise in_file(task, exc) from None
        return _publish(part, name, summary, options, started, staged)


@contextlib.contextmanager
def _block_directory(task: RangeTask | RowGroupTask, options: JobOptions) -> Iterator[tuple[Path, Any, str]]:
    """A scratch directory on the worker's disk, the worker's loaded model, and the block's part name."""
    from distributed import get_worker

    worker = get_worker()
    plugin = worker.plugins[options.plugin]  # the model was loaded once per worker, in setup()
    plugin.blocks_scored += 1
    with tempfile.TemporaryDirectory(prefix="wdbc-block-", dir=worker.local_directory) as tmp:
        yield Path(tmp), plugin, part_name(task.file_index, task.block_index, options.output_format)


def _score(block: Path, part: Path, plugin: Any, options: JobOptions, staged_columns: tuple[str, ...] | None = None
           ) -> Any:
    """``score_csv`` on the staged block; a Parquet block holds only the columns it needs, so only their renames
    apply (the client checked every rename against the whole file)."""
    score = options.score
    rename = {old: new for old, new in score.rename.items() if staged_columns is None or old in staged_columns}
    staged = score.with_(rename=rename, output_format=options.output_format, input_format="auto", progress=False,
                         sep=score.sep if staged_columns is None else None)  # a CSV block has its separator
    return score_csv(block, part, staged, runtime=plugin.runtime)


def _publish(part: Path, name: str, summary: Any, options: JobOptions, started: float,
             staged: float) -> dict[str, Any]:
    scored = time.perf_counter()
    OutputStore(options.out_dir, options.storage_options).put(part, name)
    seconds = {"stage": staged - started, "score": scored - staged, "publish": time.perf_counter() - scored}
    return {"rows": summary.rows, "positives": summary.positives, "seconds": seconds}
