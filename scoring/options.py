"""ScoreOptions: every scoring option, defined, defaulted and checked once; both scorer CLIs take their flags here."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field, fields, replace
from typing import Any

from contract.numbers import DECIMALS, decimal_option, na_values_option
from contract.text import separator_option
from scoring.errors import ScoringError

DEFAULT_BATCH_ROWS = 65_536
ON_ERROR = ("stop", "skip")
ENGINES = ("auto", "blocks")
#: ``auto``: from the file name (.parquet and .pq are Parquet), else CSV.
FORMATS = ("auto", "csv", "parquet")
#: Far more than any machine has: a typo such as 1000000 is refused rather than handed to the runtime (which builds
#: at most one thread per usable core anyway: see scoring.runtimes.load_runtime).
MAX_THREADS = 1024
#: Rows per inference call: 2**30 is far beyond any useful batch (memory is bounded by the block size anyway), and
#: below what the readers and runtimes take as a size (2**63 overflowed pyarrow's batch size in a traceback).
MAX_BATCH_ROWS = 1 << 30
#: A record (a CSV row, quoted line breaks and all) longer than this stops the block pipeline with an error at its
#: line: generous, and far below a machine's memory (--max-record-bytes raises it, up to 1 GiB).
DEFAULT_MAX_RECORD_BYTES = 64 << 20
MAX_RECORD_BYTES = 1 << 30


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask: taskset and container limits count)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _columns(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


@dataclass(frozen=True, kw_only=True)
class ScoreOptions:
    """How to read the input, which model to run and what to write: what ``score_csv``, the Dask job and both
    CLIs share. Checked on creation, so an object that exists is a valid set of options."""

    model: str | None = None
    runtime: str | None = None
    threshold: float | None = None
    batch_rows: int = DEFAULT_BATCH_ROWS
    keep: list[str] | None = None
    keep_all: bool = False
    header: bool = True
    sep: str | None = None
    rename: dict[str, str] = field(default_factory=dict)
    label_values: bool = False
    verify: bool = True
    threads: int = 1
    on_error: str = "stop"
    rejects: str | None = None
    input_format: str = "auto"
    output_format: str = "auto"
    progress: bool = False
    engine: str = "auto"
    na_values: tuple[str, ...] | None = None  # None: the model's (how its training table spelled a missing value)
    decimal: str | None = None  # None: the model's decimal mark
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ScoringError(f"--threshold must be in [0, 1], got {self.threshold}.")
        for name, value, most in (("--batch-rows", self.batch_rows, MAX_BATCH_ROWS),
                                  ("--threads", self.threads, MAX_THREADS),
                                  ("--max-record-bytes", self.max_record_bytes, MAX_RECORD_BYTES)):
            if value < 1:
                raise ScoringError(f"{name} must be a positive integer, got {value}.")
            if value > most:
                raise ScoringError(f"{name} must be at most {most:,}, got {value:,}.")
        for name, value, choices in (("--on-error", self.on_error, ON_ERROR), ("engine", self.engine, ENGINES),
                                     ("--input-format", self.input_format, FORMATS),
                                     ("--output-format", self.output_format, FORMATS)):
            if value not in choices:
                raise ScoringError(f"{name} must be one of {list(choices)}, got {value!r}.")
        if self.decimal is not None and self.decimal not in DECIMALS:
            raise ScoringError(f"--decimal must be one of {list(DECIMALS)}, got {self.decimal!r}.")
        if self.rejects is not None and self.on_error != "skip":
            raise ScoringError("--rejects names the file for rows that --on-error skip leaves out; pass --on-error "
                               "skip too, or drop --rejects.")
        if self.keep is not None and self.keep_all:
            raise ScoringError("--keep and --keep-all cannot be used together; pass one of them.")

    def with_(self, **changes: Any) -> ScoreOptions:
        """A copy with ``changes`` (checked again)."""
        return replace(self, **changes)

    @classmethod
    def from_args(cls, args: argparse.Namespace, **extra: Any) -> ScoreOptions:
        """The options of a parsed command line built by ``add_score_arguments`` (renames read from their file)."""
        from scoring.io.layout import load_renames  # polars: not needed for --help

        return cls(
            model=args.model, runtime=args.runtime, threshold=args.threshold, batch_rows=args.batch_rows,
            keep=args.keep, keep_all=args.keep_all, header=not args.no_header, sep=args.sep,
            rename={**load_renames(args.rename_file), **args.rename}, label_values=args.label_values,
            verify=not args.no_verify, threads=args.threads, on_error=args.on_error,
            rejects=getattr(args, "rejects", None), input_format=args.input_format,
            output_format=args.output_format, na_values=args.na_values, decimal=args.decimal,
            max_record_bytes=args.max_record_bytes, **extra,
        )


#: The fields a scorer CLI does not take as a flag of this name (the CLIs set them from other flags).
NOT_FLAGS = frozenset({"header", "verify", "progress", "engine", "rejects"})


def add_score_arguments(parser: argparse.ArgumentParser, *, output: str = "the output file") -> None:
    """The flags both scorer CLIs take, with one set of names, defaults and help texts."""
    parser.add_argument("--input-format", choices=FORMATS, default="auto",
                        help="csv or parquet (default: from the file name; .parquet and .pq are Parquet)")
    parser.add_argument("--output-format", choices=FORMATS, default="auto",
                        help=f"csv or parquet for {output} (default: from the name; .parquet and .pq are Parquet, "
                             "else csv)")
    add_model_arguments(parser)
    parser.add_argument("--threshold", type=float, default=None,
                        help="label = probability > T (default: the model's)")
    parser.add_argument("--batch-rows", type=int, default=DEFAULT_BATCH_ROWS,
                        help="rows per inference call (default: %(default)s)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--keep", type=_columns, default=None, metavar="COLS",
                       help="comma-separated columns to pass through (default: id, if present)")
    group.add_argument("--keep-all", action="store_true",
                       help="pass every input column through")
    parser.add_argument("--no-header", action="store_true",
                        help="the input has no header: the last columns are the features in model order")
    parser.add_argument("--sep", type=separator_option, default=None,
                        help="input field separator: , ; | or tab (default: sniffed from the first line)")
    parser.add_argument("--na-values", type=na_values_option, default=None, metavar="A,B,...|none",
                        help="spellings of a missing value, besides an empty field (a row with one is rejected as "
                             "missing), or 'none' (default: the model's, as its training table was read)")
    parser.add_argument("--decimal", type=decimal_option, default=None,
                        help="decimal mark of the CSV's numbers: '.' or ',' (default: the model's)")
    add_rename_arguments(parser)
    parser.add_argument("--label-values", action="store_true",
                        help="also write predicted_<label column> with the class values the model was trained on")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip the model checks on load (sibling hashes, the graph's threshold)")
    parser.add_argument("--threads", type=int, default=1,
                        help="inference threads per scorer process, at most the usable cores (default: %(default)s)")
    parser.add_argument("--max-record-bytes", type=_size_option, default=DEFAULT_MAX_RECORD_BYTES, metavar="SIZE",
                        help="the longest CSV record read, e.g. 64MiB or 1000000 (default: 64MiB); a longer one stops "
                             "the run at its line")
    parser.add_argument("--on-error", choices=ON_ERROR, default="stop",
                        help="stop (default): exit 2 at the first bad row; skip: write bad rows to the rejects file")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar, no summary line")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--runtime and --model, as every command that loads the model takes them (the scorers and the server)."""
    from scoring.runtimes import RUNTIMES

    parser.add_argument("--runtime", choices=sorted(RUNTIMES), default=None,
                        help="default: follows --model (an export directory means onnx)")
    parser.add_argument("--model", default=None,
                        help="ONNX file, SavedModel directory or export directory (default: artifacts/export)")


def add_rename_arguments(parser: argparse.ArgumentParser, columns: str = "input columns") -> None:
    """--rename and --rename-file (read into one mapping by ``ScoreOptions.from_args`` or ``load_renames``)."""
    parser.add_argument("--rename", type=_rename_option, default={}, metavar="OLD=NEW,...",
                        help=f"rename {columns} before matching them to the model's features by name (default: none)")
    parser.add_argument("--rename-file", default=None, metavar="PATH",
                        help="renames from a JSON object {old: new} or a two-column CSV (old,new) (default: none)")


_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1 << 10, "m": 1000**2, "mb": 1000**2, "mib": 1 << 20,
          "g": 1000**3, "gb": 1000**3, "gib": 1 << 30}


def _size_option(text: str) -> int:
    """A size in bytes: ``1000000``, ``64MiB``, ``1.5GB``."""
    import re

    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text)
    if not found or found.group(2).lower() not in _UNITS:
        raise argparse.ArgumentTypeError(f"expected a size such as 64MiB or 1000000, got {text!r}")
    return int(float(found.group(1)) * _UNITS[found.group(2).lower()])


def _rename_option(text: str) -> dict[str, str]:
    from scoring.io.layout import rename_option  # polars: not needed for --help

    return rename_option(text)


def option_names() -> list[str]:
    """The ScoreOptions fields, for checks that every one has its flag."""
    return [f.name for f in fields(ScoreOptions)]
