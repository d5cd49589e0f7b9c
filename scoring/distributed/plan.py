"""The client's plan: inputs, model, columns and OUT_DIR are all checked before any cluster starts."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import Any

from contract.artifacts import resolve_model
from contract.metadata import Metadata
from contract.text import BOM, sniff_separator
from contract.verify import read_metadata
from scoring.distributed.ranges import DEFAULT_BLOCKSIZE, RangeTask, plan_file
from scoring.distributed.rowgroups import RowGroupTask, plan_parquet
from scoring.distributed.storage import canonical, filesystem, storage_errors
from scoring.distributed.store import OutputStore, part_name
from scoring.distributed.task import JobOptions, ModelPlugin
from scoring.errors import InputError, ScoringError
from scoring.io.layout import Layout, resolve_layout, split_fields
from scoring.io.output import Outputs, check_output_format, outputs_for
from scoring.io.parquet import file_format
from scoring.options import ScoreOptions

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
    tasks: list[RangeTask | RowGroupTask]
    store: OutputStore
    plugin: ModelPlugin
    options: JobOptions
    overwrite: bool

    def part_names(self) -> list[str]:
        """The part files this job writes, in input order."""
        return sorted(part_name(t.file_index, t.block_index, self.options.output_format) for t in self.tasks)

    def file_tasks(self, file_index: int) -> list[RangeTask]:
        return [t for t in self.tasks if t.file_index == file_index and isinstance(t, RangeTask)]


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
            raise InputError("no such file; expected CSV or Parquet files, directories or glob patterns that "
                             "match some", pattern)
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


def plan_blocks(files: list[str], info: Metadata, blocksize: int, score: ScoreOptions, options: dict[str, Any],
                output_format: str = "csv") -> list[RangeTask | RowGroupTask]:
    """Every block of every file: byte ranges of a CSV, runs of row groups of a Parquet file. Columns are
    matched per file, and every file must give the same output columns (and types, for Parquet output)."""
    tasks: list[RangeTask | RowGroupTask] = []
    layouts: dict[str, Layout] = {}
    for index, path in enumerate(files):
        if file_format(path, score.input_format) == "parquet":
            blocks, layouts[path] = plan_parquet(path, index, blocksize, info, score.keep, options, score.rename,
                                                 score.keep_all)
        else:
            blocks, layouts[path] = _plan_csv(path, index, blocksize, info, score, options)
        tasks += blocks
    check_same_output(layouts, output_format, outputs_for(info, score.label_values))
    return tasks


def _plan_csv(path: str, index: int, blocksize: int, info: Metadata, score: ScoreOptions,
              options: dict[str, Any]) -> tuple[list[RangeTask], Layout]:
    blocks, header = plan_file(path, index, blocksize, options)
    line = header.removeprefix(BOM).rstrip(b"\r\n")
    separator = score.sep or sniff_separator(line.decode("utf-8", "replace"))  # as the worker's score_csv will
    fields = split_fields(line, path, 1, separator)
    return blocks, resolve_layout(fields, info.feature_names, path, True, score.keep, score.keep_all,
                                  aliases=info.feature_aliases, rename=score.rename, separator=separator,
                                  id_columns=tuple(info.id_columns))  # the workers' default pass-through


def check_same_output(layouts: dict[str, Layout], output_format: str, outputs: Outputs = Outputs()) -> None:
    """The part files of one job make one table: the same columns from every file, with the same types where
    the output keeps them (Parquet; a CSV input's pass-through columns are text)."""
    for layout in layouts.values():
        check_output_format(layout, output_format)
    schemas = {path: outputs.schema(layout) for path, layout in layouts.items()}
    (first, want), *_ = schemas.items()
    for path, schema in schemas.items():
        line = 1 if layouts[path].kind == "csv" else None
        if list(schema) != list(want):
            raise InputError(f"gives output columns {list(schema)}, but {first} gives {list(want)}; "
                             "pass --keep to choose the same pass-through columns for every file", path, line)
        if output_format == "parquet" and schema != want:
            raise InputError(f"gives output column types {_types(schema)}, but {first} gives {_types(want)}, and one "
                             "Parquet output needs one schema (a CSV input's pass-through columns are text); pass "
                             "--keep to choose other pass-through columns, or --output-format csv", path, line)


def _types(schema: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{name}: {kind}" for name, kind in schema.items()) + "}"


#: What the Dask job cannot do yet, with what to use instead.
NOT_YET = {
    "header": (False, "--no-header: the job finds each block's lines under the file's header; score headerless "
                      "files with python -m scoring.batch --no-header"),
    "on_error": ("skip", "--on-error skip: a block's rejects would not carry the file's line numbers; score with "
                         "python -m scoring.batch --on-error skip"),
}


def plan_job(inputs: list[str], out_dir: str, options: ScoreOptions | None = None, *,
             blocksize: int | str = DEFAULT_BLOCKSIZE, overwrite: bool = False,
             storage_options: dict[str, Any] | None = None, **fields: Any) -> JobPlan:
    """Check everything a job needs, on the client, and cut the inputs into blocks. Touches no output.

    ``options`` (or ScoreOptions' fields as keywords) are the batch scorer's; ``output_format`` "auto" follows
    OUT_DIR's name (``.parquet``/``.pq``), else CSV.
    """
    require_dask()
    from dask.utils import parse_bytes

    score = (options or ScoreOptions()).with_(**fields) if fields else (options or ScoreOptions())
    for name, (value, why) in NOT_YET.items():
        if getattr(score, name) == value:
            raise ScoringError(f"The Dask job does not take {why}.")
    storage = storage_options or {}
    try:
        size = parse_bytes(blocksize) if isinstance(blocksize, str) else int(blocksize)
    except ValueError:
        raise ScoringError(f"--blocksize expects a size such as 64MiB or 1000000, got {blocksize!r}.") from None
    if size < 1:
        raise ScoringError(f"--blocksize must be positive, got {blocksize!r}.")
    output_format = file_format(str(out_dir).rstrip("/"), score.output_format)
    ref = resolve_model(score.model, score.runtime)
    info = read_metadata(ref, score.verify)  # before any cluster: siblings, metadata, the ONNX threshold
    store = OutputStore(str(out_dir), storage)
    files = expand_inputs(inputs, storage)
    check_outside(files, store)
    try:
        store.check(overwrite)
    except storage_errors() as exc:
        raise ScoringError(f"Cannot use output directory {store.display()}: {exc}") from None
    tasks = plan_blocks(files, info, size, score, storage, output_format)
    plugin = ModelPlugin(ref, score.threads, score.verify)
    job_options = JobOptions(store.url, storage, plugin.name, score, output_format)
    return JobPlan(files, tasks, store, plugin, job_options, overwrite)
