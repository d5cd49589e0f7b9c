"""What every command line of the project shares: --version, --verbose, and a quiet TensorFlow."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from importlib import metadata

from contract.tfquiet import VERBOSE_ENV, import_tensorflow

PACKAGE = "wdbc-graph-export"


def version() -> str:
    """The installed project's version (``unknown`` when run from a checkout that was never installed)."""
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"


def add_standard_options(parser: argparse.ArgumentParser, tensorflow: bool = False) -> None:
    """``--version`` on every CLI; ``--verbose`` where TensorFlow may load (its own log lines are hidden)."""
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()} ({PACKAGE})")
    if tensorflow:
        parser.add_argument("--verbose", action="store_true",
                            help=f"show TensorFlow's own log lines on stderr (or set {VERBOSE_ENV}=1)")


def honour_verbose(args: argparse.Namespace) -> None:
    """With --verbose, TensorFlow keeps its log lines wherever it loads later (here, or in a Dask worker)."""
    if getattr(args, "verbose", False):
        os.environ[VERBOSE_ENV] = "1"


def prepare_tensorflow(args: argparse.Namespace) -> None:
    """Load TensorFlow now, quietly (or not, with --verbose), before any module that imports it."""
    honour_verbose(args)
    import_tensorflow()


def step_printer(quiet: bool) -> Callable[[str], None]:
    """``on_step`` for a long CLI run: one line a step on a terminal, like a progress bar; a log or a pipe gets
    only the outcome, so that an error stays one line."""
    if quiet or not sys.stderr.isatty():
        return lambda message: None
    return lambda message: print(message, file=sys.stderr, flush=True)
