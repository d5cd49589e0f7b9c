"""``python -m scoring.distributed IN... OUT_DIR``: check the job, start or join a cluster, run, stop cleanly."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from contract.cli import add_standard_options, honour_verbose
from contract.errors import ToolkitError
from scoring.distributed.ranges import DEFAULT_BLOCKSIZE
from scoring.distributed.storage import parse_storage_options, storage_errors
from scoring.distributed.store import MERGED, MERGED_NAMES
from scoring.errors import ScoringError
from scoring.options import ScoreOptions, add_score_arguments, usable_cores

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopped(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt, so both unwind the same way."""


#: The signal that asked the job to stop, kept: Python prints and drops an exception raised while it runs a finalizer
#: (a Dask future's ``__del__``), so the handler's raise can be lost, and the job raises it again at its next check.
_received: list[int] = []


def _stop(signum: int) -> KeyboardInterrupt:
    return Stopped() if signum == signal.SIGTERM else KeyboardInterrupt()


def _on_signal(signum: int, frame: object) -> None:
    # Quiet first: the unwinding that follows runs Dask's own clean-up on its event loop, which can log an error
    # of its own once interrupted (distributed.utils.sync's cancel callback) before the job's handler runs.
    _quiet()
    if not _received:
        _received.append(signum)
    raise _stop(signum)


def _check_stop() -> None:
    """Raise the stop a signal asked for, if its first raise was lost (see ``_received``)."""
    if _received:
        raise _stop(_received[0])


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Block Ctrl-C and SIGTERM while local workers are spawned: they inherit the mask (and so do threads
    started meanwhile, such as the cluster's event loop, which spawns replacements), so a signal sent to
    the whole process group reaches only this process, which then cancels the job and closes them."""
    from multiprocessing import resource_tracker

    # The tracker's start unblocks both signals in the thread that starts it: start it first.
    resource_tracker.ensure_running()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # a signal that came meanwhile is delivered now


@contextlib.contextmanager
def connect(scheduler: str | None, workers: int | None) -> Iterator[Any]:
    """A client for ``scheduler``, or for a local cluster sized to the machine, closed on exit."""
    from scoring.distributed.plan import require_dask

    distributed = require_dask()
    with contextlib.ExitStack() as stack:
        if scheduler:
            yield stack.enter_context(distributed.Client(scheduler))
            return
        with _signals_blocked():
            cluster = stack.enter_context(distributed.LocalCluster(
                n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                dashboard_address=":0",
                # Warnings off in the workers we start: after Ctrl-C each cancelled task logs one (as the signal
                # reaches the process group, before a later quieting could); errors still show.
                silence_logs=logging.ERROR))
            client = stack.enter_context(distributed.Client(cluster))
        yield client


def _quiet() -> None:
    """After a stop, cancelling tasks and closing workers mid-task is expected: keep Dask's warnings about it
    off the terminal (our one line says what happened)."""
    roots = ("distributed", "tornado", "asyncio")
    names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] in roots]  # children may set levels
    for name in {*roots, *names}:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)  # even "CRITICAL: Closed comm ... lost-data"


def _quiet_cluster(client: Any, local: bool) -> Callable[[], None]:
    """What to do on Ctrl-C before cancelling: quiet this process, and the workers too if we started them."""
    def quiet() -> None:
        _quiet()
        if local:
            with contextlib.suppress(Exception):  # best effort: a worker may be gone already
                client.run(_quiet, wait=True)
    return quiet


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scoring.distributed",
                                     description="Score CSV or Parquet files on a Dask cluster, one part file per "
                                                 "block.")
    parser.add_argument("inputs", nargs="+", metavar="IN",
                        help="CSV files (split at line ends; .gz/.bz2 whole) or Parquet files (.parquet/.pq, split by "
                             "row group), directories or glob patterns: local paths or fsspec URLs (s3://...)")
    parser.add_argument("out_dir", metavar="OUT_DIR",
                        help="output directory, local or an fsspec URL: part-*.csv (or .parquet), then _SUCCESS")
    add_score_arguments(parser, output="the part files and the merged file")
    parser.add_argument("--scheduler", default=None, help="address of a running scheduler (default: a local cluster)")
    parser.add_argument("--workers", type=int, default=None, help="local cluster size, at most 4 per usable core (default: one per core)")
    parser.add_argument("--blocksize", default=DEFAULT_BLOCKSIZE,
                        help="bytes per block, e.g. 64MiB: a CSV's byte range, or a Parquet file's row groups by "
                             "their compressed size (default: %(default)s)")
    parser.add_argument("--storage-option", action="append", default=[], metavar="KEY=VALUE",
                        help="an fsspec option for s3:// and other stores, e.g. endpoint_url=http://127.0.0.1:9000 "
                             "(repeatable; default: none, the store's environment variables work too)")
    parser.add_argument("--merge", action="store_true",
                        help=f"also concatenate the parts into OUT_DIR/{MERGED} (or {MERGED_NAMES['parquet']}, "
                             "row group by row group)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an earlier job's part files, scored.csv/.parquet and _SUCCESS in OUT_DIR")
    add_standard_options(parser, tensorflow=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    expected = (ToolkitError, *storage_errors())
    main_thread = threading.current_thread() is threading.main_thread()
    _received.clear()
    # Only the main thread may set handlers; an ignored Ctrl-C (a background job of a script) stays ignored.
    previous = {signum: signal.signal(signum, _on_signal) for signum in STOP_SIGNALS
                if main_thread and not (signum == signal.SIGINT and signal.getsignal(signum) == signal.SIG_IGN)}
    try:
        most = 4 * usable_cores()  # one process each: room for I/O-bound work, not for a typo's thousands
        if args.workers is not None and not 1 <= args.workers <= most:
            raise ScoringError(f"--workers must be an integer in [1, {most}] (4 per usable core), got {args.workers}.")
        honour_verbose(args)  # also in the workers, which inherit the environment (--runtime tf)
        from scoring.distributed.job import run_job
        from scoring.distributed.plan import plan_job

        plan = plan_job(args.inputs, args.out_dir, ScoreOptions.from_args(args), blocksize=args.blocksize,
                        overwrite=args.overwrite, storage_options=parse_storage_options(args.storage_option))
        with connect(args.scheduler, args.workers) as client:
            if not args.quiet:
                print(f"dashboard: {client.dashboard_link}", file=sys.stderr)
            summary = run_job(plan, client, merge=args.merge, progress=not args.quiet and sys.stderr.isatty(),
                              on_interrupt=_quiet_cluster(client, local=args.scheduler is None),
                              check_stop=_check_stop)
    except expected as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        signum = signal.SIGTERM if isinstance(exc, Stopped) else signal.SIGINT
        print(f"Interrupted ({signal.Signals(signum).name}): the job was cancelled and the cluster closed; "
              f"{args.out_dir} has no _SUCCESS.", file=sys.stderr)
        return 128 + signum
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if not args.quiet:
        print(summary.line(), file=sys.stderr)
    return 0
