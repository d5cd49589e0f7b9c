"""Scale-out scoring on Dask: every block of every input is scored by the single-machine scorer.

``python -m scoring.distributed IN... OUT_DIR [--scheduler ADDRESS] [--workers N] ...``
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from scoring.artifacts import ModelRef, read_sidecar, resolve_model
from scoring.batch import score_csv
from scoring.errors import InputError, ScoringError
from scoring.layout import Layout, resolve_layout, split_fields
from scoring.runtimes import RUNTIMES, load_runtime

PLUGIN_NAME = "wdbc-model"
SUCCESS = "_SUCCESS"
MERGED = "scored.csv"
DEFAULT_BLOCKSIZE = "64MiB"
INSTALL_HINT = "Dask is not installed: pip install '.[distributed]' (dask[dataframe] and distributed)."


try:  # Dask is an optional extra; without it only the error message below is reachable.
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # pragma: no cover - exercised only without the extra
    WorkerPlugin = object


def _dask() -> Any:
    try:
        import distributed
    except ImportError:
        raise ScoringError(INSTALL_HINT) from None
    return distributed


# ----------------------------------------------------------------------------------------------
# The model travels with the job


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


def feature_names(ref: ModelRef) -> list[str]:
    """Feature names on the client, without loading TensorFlow for a SavedModel."""
    if ref.runtime == "tf":
        return list(read_sidecar(ref.path)["feature_names"])
    return load_runtime(ref).feature_names


# ----------------------------------------------------------------------------------------------
# Blocks: byte ranges of the inputs, cut at line ends


@dataclass(frozen=True)
class RangeTask:
    """One block: bytes [offset, offset + length) of ``path``, widened to whole lines."""

    path: str
    file_index: int
    block_index: int
    offset: int
    length: int
    header: bytes

    @property
    def part_name(self) -> str:
        # Zero-padded, so sorting the names gives the input order.
        return f"part-{self.file_index:05d}-{self.block_index:06d}.csv"


class BlockInputError(InputError):
    """Bad input inside a block; the line is relative to the block until the client resolves it."""

    def __init__(self, path: str, data_start: int, line: int, column: str | None, column_number: int | None,
                 reason: str) -> None:
        self.data_start, self.relative_line = data_start, line
        super().__init__(reason, path, line, column, column_number)

    def __reduce__(self) -> tuple:  # survive pickling from worker to client with every field
        return (BlockInputError, (self.source, self.data_start, self.relative_line, self.column,
                                  self.column_number, self.reason))


def _seek_line_start(handle: Any, position: int) -> int:
    """Just past the first newline at or after ``position`` (0 stays 0). Neighbouring blocks compute their
    shared boundary the same way, so every line lands in exactly one block."""
    from fsspec.utils import seek_delimiter

    handle.seek(position)
    seek_delimiter(handle, b"\n", 1 << 16)
    return handle.tell()


def _range_bounds(handle: Any, task: RangeTask) -> tuple[int, int]:
    start = max(_seek_line_start(handle, task.offset), len(task.header))
    return start, max(_seek_line_start(handle, task.offset + task.length), start)


def stage_range(task: RangeTask, target: Path) -> int:
    """Write the file's header and the block's whole lines to ``target``; returns where the lines start.

    A local input is copied by the kernel (``copy_file_range``), without passing through Python.
    """
    import fsspec

    with open(target, "wb") as out:
        out.write(task.header)
        out.flush()
        if "://" not in task.path:
            with open(task.path, "rb") as handle:
                start, end = _range_bounds(handle, task)
                _copy_range(handle, out, start, end - start)
            return start
        with fsspec.open(task.path, "rb") as handle:
            start, end = _range_bounds(handle, task)
            handle.seek(start)
            out.write(handle.read(end - start))
        return start


def _copy_range(source: Any, out: Any, offset: int, count: int) -> None:
    try:
        while count > 0:
            copied = os.copy_file_range(source.fileno(), out.fileno(), count, offset)
            if copied == 0:
                break
            offset, count = offset + copied, count - copied
    except OSError:  # e.g. across filesystems on older kernels: copy through userland
        source.seek(offset)
        out.seek(0, os.SEEK_END)
        shutil.copyfileobj(io.BytesIO(source.read(count)), out)


def plan_blocks(path: str, file_index: int, blocksize: int) -> tuple[list[RangeTask], bytes]:
    """Split one input into byte ranges; returns them and the header line."""
    import fsspec

    with fsspec.open(path, "rb") as handle:
        header = handle.readline()
        size = handle.seek(0, os.SEEK_END)
    if not header.strip():
        raise InputError("the file is empty; expected a header line naming the feature columns", path, 1)
    tasks = [RangeTask(path, file_index, i, offset, blocksize, header)
             for i, offset in enumerate(range(0, max(size, 1), blocksize))]
    return tasks, header


@dataclass(frozen=True)
class JobOptions:
    """What every block task needs besides its range."""

    out_dir: str
    plugin: str
    threshold: float | None
    batch_rows: int
    keep: list[str] | None


def score_range(task: RangeTask, options: JobOptions) -> dict[str, int]:
    """Worker side: the block's lines, under the file's header, through the single-machine ``score_csv``.

    The block is staged as a small CSV on the worker's local disk, so it gets the scorer's fastest path
    (polars' streaming engine) and, on a bad row, its exact line-numbered error.
    """
    from distributed import get_worker

    worker = get_worker()
    plugin = worker.plugins[options.plugin]  # the model was loaded once per worker, in setup()
    plugin.blocks_scored += 1
    with tempfile.TemporaryDirectory(prefix="wdbc-block-", dir=worker.local_directory) as tmp:
        block = Path(tmp) / "block.csv"
        start = stage_range(task, block)
        try:
            summary = _score_to_part(block, options, task.part_name, plugin.runtime)
        except InputError as exc:  # lines are relative to the staged file, whose line 1 is the header
            raise BlockInputError(task.path, start, (exc.line or 2) - 1, exc.column, exc.column_number,
                                  exc.reason) from None
    return {"rows": summary.rows, "positives": summary.positives}


def _score_to_part(block: Path, options: JobOptions, name: str, runtime: Any) -> Any:
    """score_csv into OUT_DIR/name; atomic on a local filesystem (temp + rename), and via put + mv elsewhere."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(options.out_dir)
    local = "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))
    target = f"{root}/{name}" if local else str(block.with_suffix(".scored.csv"))
    summary = score_csv(block, target, runtime=runtime, threshold=options.threshold,
                        batch_rows=options.batch_rows, keep=options.keep)
    if not local:
        tmp = f"{root}/.{name}.{uuid.uuid4().hex}.tmp"
        fs.put(target, tmp)
        fs.mv(tmp, f"{root}/{name}")
    return summary


# ----------------------------------------------------------------------------------------------
# The client side


@dataclass
class JobSummary:
    """What a distributed job did; ``line()`` is the CLI's closing line."""

    out_dir: str
    files: int
    blocks: int
    workers: int
    rows: int = 0
    positives: int = 0
    seconds: float = 0.0
    merged: str | None = None

    def line(self) -> str:
        rate = self.rows / self.seconds if self.seconds else 0.0
        return (f"scored {self.rows:,} rows ({self.positives:,} positive) from {self.files} file(s) in "
                f"{self.blocks} blocks on {self.workers} worker(s) in {self.seconds:.2f} s, {rate:,.0f} rows/s "
                f"-> {self.out_dir}/")


def expand_inputs(patterns: list[str]) -> list[str]:
    """Files and glob patterns, each pattern's matches sorted; a pattern that matches nothing is an error."""
    files: list[str] = []
    for pattern in patterns:
        if "://" in pattern:
            files.append(pattern)
            continue
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not matches or not all(Path(m).is_file() for m in matches):
            raise InputError("no such file; expected CSV files or glob patterns that match some", pattern)
        files.extend(matches)
    return files


def prepare_out_dir(out_dir: Path, overwrite: bool) -> None:
    """Refuse to mix with an earlier job's output unless told to; then remove its _SUCCESS first."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ScoringError(f"Output path {out_dir} exists and is not a directory.")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not overwrite:
            raise ScoringError(f"Output directory {out_dir} is not empty; pass --overwrite to replace its contents.")
        (out_dir / SUCCESS).unlink(missing_ok=True)  # first: a half-replaced directory never looks complete
        for path in out_dir.iterdir():
            if path.name.startswith(("part-", ".part-", MERGED)):
                path.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)


def plan_job(files: list[str], names: list[str], blocksize: int, keep: list[str] | None
             ) -> list[tuple[RangeTask, Layout]]:
    """Every block of every file with its file's column layout (columns are matched per file)."""
    planned: list[tuple[RangeTask, Layout]] = []
    outputs: dict[str, list[str]] = {}
    for index, path in enumerate(files):
        blocks, header = plan_blocks(path, index, blocksize)
        fields = split_fields(header.removeprefix(b"\xef\xbb\xbf").rstrip(b"\r\n"), path, 1)
        layout = resolve_layout(fields, names, path, True, keep)
        outputs[path] = layout.output_names
        planned += [(task, layout) for task in blocks]
    first = next(iter(outputs.values()))
    for path, columns in outputs.items():
        if columns != first:
            raise InputError(f"gives output columns {columns}, but {files[0]} gives {first}; "
                             "pass --keep to choose the same pass-through columns for every file", path, 1)
    return planned


def absolute_line(path: str, data_start: int, relative_line: int) -> int:
    """Turn a block-relative line into the file's 1-based line (only needed on the error path)."""
    import fsspec

    newlines = 0
    with fsspec.open(path, "rb") as handle:
        remaining = data_start
        while remaining > 0:
            chunk = handle.read(min(remaining, 1 << 24))
            if not chunk:
                break
            newlines += chunk.count(b"\n")
            remaining -= len(chunk)
    return newlines + relative_line


def _resolve_error(exc: BaseException) -> BaseException:
    if isinstance(exc, BlockInputError):
        line = absolute_line(exc.source, exc.data_start, exc.relative_line)
        return InputError(exc.reason, exc.source, line, exc.column, exc.column_number,
                          "Fix the row and run the job again; no _SUCCESS was written.")
    return exc


def score_distributed(
    inputs: list[str], out_dir: str | Path, client: Any, model: str | Path | None = None,
    runtime: str | None = None, blocksize: int | str = DEFAULT_BLOCKSIZE, threshold: float | None = None,
    keep: list[str] | None = None, batch_rows: int = 65_536, merge: bool = False, overwrite: bool = False,
    progress: bool = False,
) -> JobSummary:
    """Score ``inputs`` on ``client``'s cluster into ``out_dir``: one part file per block, then ``_SUCCESS``.

    Block tasks run the single-machine ``scoring.batch.score_csv`` on their lines; a bad row stops the job
    with the file and line, and no ``_SUCCESS`` is written.
    """
    distributed = _dask()
    from dask.utils import parse_bytes

    started = time.perf_counter()
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ScoringError(f"--threshold must be in [0, 1], got {threshold}.")
    size = parse_bytes(blocksize) if isinstance(blocksize, str) else int(blocksize)
    ref = resolve_model(model, runtime)
    files = expand_inputs(inputs)
    planned = plan_job(files, feature_names(ref), size, keep)
    out_dir = Path(out_dir)
    prepare_out_dir(out_dir, overwrite)
    plugin = ModelPlugin(ref)
    client.register_plugin(plugin)
    options = JobOptions(str(out_dir.resolve()), plugin.name, threshold, batch_rows, keep)
    job = uuid.uuid4().hex[:8]
    futures = [client.submit(score_range, task, options, pure=False,
                             key=f"wdbc-score-{job}-{task.file_index:05d}-{task.block_index:06d}")
               for task, _ in planned]
    if progress:
        distributed.progress(futures)
    summary = JobSummary(str(out_dir), len(files), len(futures), len(client.scheduler_info()["workers"]))
    for future in distributed.as_completed(futures):
        if future.status == "error":
            exc = future.exception()
            client.cancel(futures)
            raise _resolve_error(exc) from None
        result = future.result()
        # Release at once: a finished block whose result is still wanted would be recomputed if the
        # worker holding it died later.
        future.release()
        summary.rows += result["rows"]
        summary.positives += result["positives"]
    if merge:
        summary.merged = str(merge_parts(out_dir))
    summary.seconds = time.perf_counter() - started
    # Written last: its presence means every part (and the merged file) is complete.
    (out_dir / SUCCESS).write_text(json.dumps(asdict(summary), indent=2) + "\n")
    return summary


def merge_parts(out_dir: Path) -> Path:
    """Concatenate the part files, in order, into one CSV (header once), atomically."""
    from scoring.output import AtomicOutput

    parts = sorted(out_dir.glob("part-*.csv"))
    target = out_dir / MERGED
    with AtomicOutput(target) as out:
        for i, part in enumerate(parts):
            with open(part, "rb") as handle:
                header = handle.readline()
                if i == 0:
                    out.handle.write(header)
                shutil.copyfileobj(handle, out.handle, 1 << 20)
        out.commit()
    return target


@contextlib.contextmanager
def connect(scheduler: str | None, workers: int | None) -> Any:
    """A client for ``scheduler``, or for a local cluster sized to the machine, closed on exit."""
    distributed = _dask()
    if scheduler:
        with distributed.Client(scheduler) as client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    with distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        yield client


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scoring.distributed",
                                     description="Score CSV files on a Dask cluster, one part file per block.")
    parser.add_argument("inputs", nargs="+", metavar="IN", help="CSV files or glob patterns")
    parser.add_argument("out_dir", metavar="OUT_DIR", help="output directory: part-*.csv, then _SUCCESS")
    parser.add_argument("--scheduler", default=None, help="address of a running scheduler (default: a local cluster)")
    parser.add_argument("--workers", type=int, default=None, help="local cluster size (default: one per core)")
    parser.add_argument("--runtime", choices=sorted(RUNTIMES), default=None)
    parser.add_argument("--model", default=None, help="ONNX file, SavedModel or export directory (default: artifacts/export)")
    parser.add_argument("--blocksize", default=DEFAULT_BLOCKSIZE, help="bytes per block, e.g. 64MiB (default: %(default)s)")
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--keep", type=lambda s: [c.strip() for c in s.split(",") if c.strip()], default=None)
    parser.add_argument("--merge", action="store_true", help=f"also concatenate the parts into OUT_DIR/{MERGED}")
    parser.add_argument("--overwrite", action="store_true", help="replace the contents of a non-empty OUT_DIR")
    parser.add_argument("--quiet", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with connect(args.scheduler, args.workers) as client:
            if not args.quiet:
                print(f"dashboard: {client.dashboard_link}", file=sys.stderr)
            summary = score_distributed(args.inputs, args.out_dir, client, args.model, args.runtime, args.blocksize,
                                        args.threshold, args.keep, merge=args.merge, overwrite=args.overwrite,
                                        progress=not args.quiet and sys.stderr.isatty())
    except (ScoringError, ValueError, OSError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(summary.line(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
