"""Running a checked plan on a cluster: submit every block, stop at the first error, commit ``_SUCCESS`` last."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from scoring.distributed.plan import DEFAULT_BLOCKSIZE, JobPlan, plan_job, require_dask
from scoring.distributed.ranges import BlockInputError, explain
from scoring.distributed.task import score_block
from scoring.options import ScoreOptions

#: How long a stopped job waits for its running blocks to finish before it reports the error anyway: a running
#: block cannot be interrupted, and a hung worker must not hang the job's error.
STOP_TIMEOUT = 60.0


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
    task_seconds: dict[str, float] | None = None

    def line(self) -> str:
        rate = self.rows / self.seconds if self.seconds else 0.0
        parts = f"{self.blocks} part file{'' if self.blocks == 1 else 's'}"
        target = f"{self.merged} (and {parts} beside it)" if self.merged else self.out_dir
        return (f"scored {self.rows:,} rows ({self.positives:,} positive) from {self.files} file(s) in "
                f"{self.blocks} blocks on {self.workers} worker(s) in {self.seconds:.2f} s, {rate:,.0f} rows/s "
                f"-> {target}")


def run_job(plan: JobPlan, client: Any, merge: bool = False, progress: bool = False,
            on_interrupt: Callable[[], None] | None = None,
            check_stop: Callable[[], None] | None = None) -> JobSummary:
    """Score a checked plan on ``client``'s cluster: claim OUT_DIR (``_RUNNING``, removed at the end), one part
    file per block, then ``_SUCCESS`` over exactly the plan's parts.

    A bad row stops the job with the file and line, and no ``_SUCCESS`` is written. On any exception
    (Ctrl-C included, after ``on_interrupt``) the blocks still queued are cancelled, and the exception is
    raised once the running ones have finished (at most ``STOP_TIMEOUT`` s) and their temporaries are gone.
    ``check_stop()`` is called after every block and once more before the merge and ``_SUCCESS``: it raises to
    stop the job (a signal whose own exception was lost).
    """
    check = check_stop or (lambda: None)
    distributed = require_dask()
    started = time.perf_counter()
    store = plan.store
    job = uuid.uuid4().hex[:8]
    store.claim(job, plan.overwrite)  # first: a second job into this OUT_DIR fails here, at any moment
    try:
        summary = _run_claimed(plan, client, job, distributed, progress, on_interrupt, check)
        check()  # the last moment a stop leaves no merged file
        planned = plan.part_names()
        store.check_parts(planned)  # _SUCCESS vouches for exactly this job's parts
        if merge:
            summary.merged = store.merge(plan.options.output_format, planned)
        summary.seconds = time.perf_counter() - started
        # Written last: its presence means every part (and the merged file) is complete.
        store.write_success(json.dumps({**asdict(summary), "job": job, "parts": planned}, indent=2) + "\n")
    finally:
        store.release(job)
    return summary


def _run_claimed(plan: JobPlan, client: Any, job: str, distributed: Any, progress: bool,
                 on_interrupt: Callable[[], None] | None, check: Callable[[], None]) -> JobSummary:
    """Submit every block, collect the results; on any exception cancel, wait for running blocks, sweep, raise."""
    store = plan.store
    store.prepare(plan.overwrite)
    client.register_plugin(plan.plugin)
    futures = [client.submit(score_block, task, plan.options, pure=False,
                             key=f"wdbc-score-{job}-{task.file_index:05d}-{task.block_index:06d}")
               for task in plan.tasks]
    summary = JobSummary(store.display(), len(plan.files), len(futures), len(client.scheduler_info()["workers"]),
                         task_seconds={})
    try:
        if progress:
            distributed.progress(futures)
        for future in distributed.as_completed(futures):
            if future.status == "error":
                raise _resolve(plan, future.exception()) from None
            result = future.result()
            # Release at once: a finished block whose result is still wanted would be recomputed if the
            # worker holding it died later.
            future.release()
            summary.rows += result["rows"]
            summary.positives += result["positives"]
            for stage, seconds in result["seconds"].items():
                summary.task_seconds[stage] = summary.task_seconds.get(stage, 0.0) + seconds
            check()
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt) and on_interrupt is not None:
            on_interrupt()
        client.cancel(futures)
        # Cancelling does not stop a block that is already running: wait for it, so that nothing of this job
        # is written into OUT_DIR after the error is reported, then remove what it left half-written.
        _wait_until_stopped(client, f"wdbc-score-{job}-")
        store.sweep()
        raise
    store.sweep()  # temporaries of attempts that died (their blocks were retried and published since)
    return summary


def _wait_until_stopped(client: Any, prefix: str, timeout: float = STOP_TIMEOUT) -> bool:
    """Wait until no worker holds a task whose key starts with ``prefix`` (running, queued or cancelled but
    still running); False if some still did after ``timeout`` seconds or a worker could not be asked."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            held = client.run(_held_keys, prefix, on_error="return")
        except Exception:  # noqa: BLE001 - best effort: the cluster may be going away
            return False
        if not any(keys for keys in held.values() if not isinstance(keys, BaseException)):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _held_keys(prefix: str, dask_worker: Any) -> list[str]:
    """Worker side: this worker's tasks of one job, in any state (a cancelled task still running included)."""
    return [str(key) for key in list(dask_worker.state.tasks) if str(key).startswith(prefix)]


def _resolve(plan: JobPlan, exc: BaseException) -> BaseException:
    if isinstance(exc, BlockInputError):
        return explain(exc, plan.file_tasks(exc.task.file_index), plan.options.storage_options)
    return exc


def score_distributed(inputs: list[str], out_dir: str | Path, client: Any, options: ScoreOptions | None = None, *,
                      blocksize: int | str = DEFAULT_BLOCKSIZE, merge: bool = False, overwrite: bool = False,
                      progress: bool = False, storage_options: dict[str, Any] | None = None,
                      **fields: Any) -> JobSummary:
    """Score ``inputs`` (paths, globs, directories or fsspec URLs; CSV, or Parquet by name or ``input_format``)
    on ``client``'s cluster into ``out_dir``, as CSV or Parquet part files (``output_format``), with the batch
    scorer's ``options`` (or their fields as keywords: ``model=``, ``keep=``, ...).

    Block tasks run the single-machine ``scoring.batch.score_csv`` on their lines or row groups; a bad row
    stops the job with the file and line (row, in Parquet), and no ``_SUCCESS`` is written.
    """
    plan = plan_job(inputs, str(out_dir), options, blocksize=blocksize, overwrite=overwrite,
                    storage_options=storage_options, **fields)
    return run_job(plan, client, merge, progress)
