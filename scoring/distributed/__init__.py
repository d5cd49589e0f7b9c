"""Scale-out scoring on Dask: every block of every input is scored by the single-machine scorer.

``python -m scoring.distributed IN... OUT_DIR [--scheduler ADDRESS] [--workers N] ...``; inputs (CSV or
Parquet) and OUT_DIR may be local paths or fsspec URLs. Modules: ``storage`` (URLs and filesystems),
``ranges`` (blocks of a CSV), ``rowgroups`` (blocks of a Parquet file), ``store`` (the output's commit
protocol), ``task`` (the worker side), ``plan`` (the client's checks), ``job`` (running a plan), ``cli``.
"""

from __future__ import annotations

import importlib
from typing import Any

from scoring.distributed.store import MERGED, SUCCESS

#: Where each public name lives; imported on first use, so that ``--help`` does not load Dask.
_LAZY = {"main": "cli", "JobSummary": "job", "run_job": "job", "score_distributed": "job", "JobPlan": "plan",
         "plan_job": "plan"}

__all__ = ["MERGED", "SUCCESS", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"scoring.distributed.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'scoring.distributed' has no attribute {name!r}")
