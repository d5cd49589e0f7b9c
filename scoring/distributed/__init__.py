"""Scale-out scoring on Dask: every block of every input is scored by the single-machine scorer.

``python -m scoring.distributed IN... OUT_DIR [--scheduler ADDRESS] [--workers N] ...``; inputs and OUT_DIR
may be local paths or fsspec URLs. Modules: ``storage`` (URLs and filesystems), ``ranges`` (blocks of an
input), ``store`` (the output's commit protocol), ``task`` (the worker side), ``plan`` (the client's checks),
``job`` (running a plan), ``cli``.
"""

from __future__ import annotations

from scoring.distributed.cli import main
from scoring.distributed.job import JobSummary, run_job, score_distributed
from scoring.distributed.plan import JobPlan, plan_job
from scoring.distributed.store import MERGED, SUCCESS

__all__ = ["MERGED", "SUCCESS", "JobPlan", "JobSummary", "main", "plan_job", "run_job", "score_distributed"]
