"""The worker side: the model travels in a worker plugin; each block is scored by the single-machine scorer."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scoring.artifacts import ModelRef
from scoring.batch import score_csv
from scoring.distributed.ranges import BlockInputError, RangeTask, odd_quotes, stage_range
from scoring.distributed.store import OutputStore
from scoring.errors import InputError
from scoring.runtimes import load_runtime

PLUGIN_NAME = "wdbc-model"

try:  # Dask is an optional extra; without it the CLI stops earlier with an install hint.
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # pragma: no cover - exercised only without the extra
    WorkerPlugin = object


def pack_model(ref: ModelRef) -> dict[str, bytes]:
    """The model's files by relative path: an ONNX file, or every file of a SavedModel directory."""
    if ref.path.is_file():
        return {ref.path.name: ref.path.read_bytes()}
    return {str(p.relative_to(ref.path)): p.read_bytes() for p in sorted(ref.path.rglob("*")) if p.is_file()}


class ModelPlugin(WorkerPlugin):
    """Carries the model's bytes to every worker (no shared filesystem) and loads it once per worker.

    Registered with the client, it also runs on workers that join later (a replacement for a killed one).
    """

    def __init__(self, ref: ModelRef, threads: int = 1) -> None:
        self.runtime_name, self.threads = ref.runtime, threads
        self.files = pack_model(ref)
        # Named by content: jobs with different models on one cluster never replace each other's.
        digest = hashlib.sha256(b"".join(k.encode() + v for k, v in sorted(self.files.items()))).hexdigest()
        self.name = f"{PLUGIN_NAME}-{ref.runtime}-{digest[:16]}"
        self.root = ref.path.name if ref.path.is_file() else ""
        self.runtime: Any = None
        self.directory: Path | None = None
        self.loads = self.blocks_scored = 0  # observable proof of "loaded once, used by many blocks"

    def setup(self, worker: Any) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="wdbc-model-", dir=worker.local_directory))
        for relative, data in self.files.items():
            path = self.directory / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        self.runtime = load_runtime(ModelRef(self.runtime_name, self.directory / self.root), self.threads)
        self.loads += 1

    def teardown(self, worker: Any) -> None:
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)


@dataclass(frozen=True)
class JobOptions:
    """What every block task needs besides its range."""

    out_dir: str
    storage_options: dict[str, Any]
    plugin: str
    threshold: float | None
    batch_rows: int
    keep: list[str] | None


def score_range(task: RangeTask, options: JobOptions) -> dict[str, Any]:
    """Worker side: the block's lines, under the file's header, through the single-machine ``score_csv``.

    The block is staged as a small CSV on the worker's local disk, so it gets the scorer's fastest path
    (polars' streaming engine) and, on a bad row, its exact line-numbered error; the part file is scored
    locally too and then published in OUT_DIR in one step.
    """
    from distributed import get_worker

    worker = get_worker()
    plugin = worker.plugins[options.plugin]  # the model was loaded once per worker, in setup()
    plugin.blocks_scored += 1
    with tempfile.TemporaryDirectory(prefix="wdbc-block-", dir=worker.local_directory) as tmp:
        block, part = Path(tmp) / "block.csv", Path(tmp) / task.part_name
        started = time.perf_counter()
        start, last = stage_range(task, block, options.storage_options)
        if not task.compression and not last and odd_quotes(block, len(task.header)):
            raise BlockInputError(task, start, 1, None, None, "the block ends inside a quoted field", kind="quotes")
        staged = time.perf_counter()
        try:
            summary = score_csv(source=block, output=part, runtime=plugin.runtime, threshold=options.threshold,
                                batch_rows=options.batch_rows, keep=options.keep)
        except InputError as exc:  # a range's staged line 1 is the header; a compressed file is staged whole
            line = exc.line or 1
            raise BlockInputError(task, start, line if task.compression else max(line - 1, 1), exc.column,
                                  exc.column_number, exc.reason) from None
        scored = time.perf_counter()
        OutputStore(options.out_dir, options.storage_options).put(part, task.part_name)
        seconds = {"stage": staged - started, "score": scored - staged, "publish": time.perf_counter() - scored}
    return {"rows": summary.rows, "positives": summary.positives, "seconds": seconds}
