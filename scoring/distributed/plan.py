"""The client's plan: inputs, model, columns and OUT_DIR are all checked before any cluster starts."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import Any

from scoring.artifacts import ModelInfo, resolve_model
from scoring.distributed.ranges import DEFAULT_BLOCKSIZE, RangeTask, plan_file
from scoring.distributed.storage import canonical, filesystem, storage_errors
from scoring.distributed.store import OutputStore
from scoring.distributed.task import JobOptions, ModelPlugin
from scoring.errors import InputError, ScoringError
from scoring.layout import resolve_layout, split_fields
from scoring.runtimes import read_model_info
from scoring.sources import BOM, sniff_separator

INSTALL_HINT = "Dask is not installed: pip install '.[distributed]' (dask[dataframe] and distributed)."


def require_dask() -> Any:
    try:
        import distributed
    except ImportError:
        raise ScoringError(INSTALL_HINT) from None
    return distributed


@dataclass
class JobPlan:
    """A checked job: its files, every block, the output store, the model plugin and the task options."""

    files: list[str]
    tasks: list[RangeTask]
    store: OutputStore
    plugin: ModelPlugin
    options: JobOptions
    overwrite: bool

    def file_tasks(self, file_index: int) -> list[RangeTask]:
        return [t for t in self.tasks if t.file_index == file_index]


def expand_inputs(patterns: list[str], options: dict[str, Any]) -> list[str]:
    """Files, directories (their files, in name order) and glob patterns (their matches, sorted), as absolute
    paths or URLs. A pattern that matches nothing is an error."""
    files: list[str] = []
    for pattern in patterns:
        fs, path = filesystem(pattern, options)
        try:
            matches = _matches(fs, path)
        except storage_errors() as exc:
            raise InputError(f"cannot list: {exc}", pattern) from None
        if not matches:
            raise InputError("no such file; expected CSV files, directories or glob patterns that match some",
                             pattern)
        files += [canonical(fs, m) for m in matches]
    return files


def _matches(fs: Any, path: str) -> list[str]:
    fs.invalidate_cache()  # a listing cached earlier in this process may predate the files
    if glob.has_magic(path):  # as in a shell, * does not match a leading dot (our temporaries start with one)
        hidden = os.path.basename(path).startswith(".")
        return sorted(p for p, info in fs.glob(path, detail=True).items()
                      if info["type"] == "file" and (hidden or not os.path.basename(p).startswith(".")))
    if fs.isdir(path):  # hidden and _-prefixed names are bookkeeping (.crc, _SUCCESS), not data
        return sorted(info["name"] for info in fs.ls(path, detail=True) if info["type"] == "file"
                      and not os.path.basename(info["name"]).startswith((".", "_")))
    return [path] if fs.isfile(path) else []


def check_outside(files: list[str], store: OutputStore) -> None:
    """No input may lie inside OUT_DIR: the job writes there and --overwrite removes files there."""
    for path in files:
        if store.contains(path):
            raise InputError(f"lies inside OUT_DIR {store.display()}, where the job writes its output and "
                             "--overwrite removes files; move the inputs out or choose another OUT_DIR", path)


def plan_blocks(files: list[str], info: ModelInfo, blocksize: int, keep: list[str] | None,
                options: dict[str, Any]) -> list[RangeTask]:
    """Every block of every file; columns are matched per file, and every file must give the same output."""
    tasks: list[RangeTask] = []
    outputs: dict[str, list[str]] = {}
    for index, path in enumerate(files):
        blocks, header = plan_file(path, index, blocksize, options)
        line = header.removeprefix(BOM).rstrip(b"\r\n")
        separator = sniff_separator(line.decode("utf-8", "replace"))  # as the worker's score_csv will
        fields = split_fields(line, path, 1, separator)
        outputs[path] = resolve_layout(fields, info.feature_names, path, True, keep, aliases=info.aliases,
                                       separator=separator).output_names
        tasks += blocks
    first = outputs[files[0]]
    for path, columns in outputs.items():
        if columns != first:
            raise InputError(f"gives output columns {columns}, but {files[0]} gives {first}; "
                             "pass --keep to choose the same pass-through columns for every file", path, 1)
    return tasks


def plan_job(inputs: list[str], out_dir: str, model: str | None = None, runtime: str | None = None,
             blocksize: int | str = DEFAULT_BLOCKSIZE, threshold: float | None = None, keep: list[str] | None = None,
             batch_rows: int = 65_536, overwrite: bool = False, storage_options: dict[str, Any] | None = None,
             ) -> JobPlan:
    """Check everything a job needs, on the client, and cut the inputs into blocks. Touches no output."""
    require_dask()
    from dask.utils import parse_bytes

    options = storage_options or {}
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ScoringError(f"--threshold must be in [0, 1], got {threshold}.")
    if batch_rows < 1:
        raise ScoringError(f"--batch-rows must be a positive integer, got {batch_rows}.")
    try:
        size = parse_bytes(blocksize) if isinstance(blocksize, str) else int(blocksize)
    except ValueError:
        raise ScoringError(f"--blocksize expects a size such as 64MiB or 1000000, got {blocksize!r}.") from None
    if size < 1:
        raise ScoringError(f"--blocksize must be positive, got {blocksize!r}.")
    ref = resolve_model(model, runtime)
    info = read_model_info(ref)  # verified here, before any cluster: siblings, metadata, the ONNX threshold
    store = OutputStore(str(out_dir), options)
    files = expand_inputs(inputs, options)
    check_outside(files, store)
    try:
        store.check(overwrite)
    except storage_errors() as exc:
        raise ScoringError(f"Cannot use output directory {store.display()}: {exc}") from None
    tasks = plan_blocks(files, info, size, keep, options)
    plugin = ModelPlugin(ref)
    job_options = JobOptions(store.url, options, plugin.name, threshold, batch_rows, keep)
    return JobPlan(files, tasks, store, plugin, job_options, overwrite)
