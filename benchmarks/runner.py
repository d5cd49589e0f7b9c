"""Run benchmark variants as separate processes, interleaved, with their own timing and peak RSS."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.common import run_measured, summarize


def run_worker(variant: str, src: Path, out: Path, model: Path, cores: list[int] | None = None) -> dict[str, Any]:
    """One ``benchmarks.scoring_worker`` run (pinned to ``cores`` if given): its JSON (the timed part, and
    the set-up before it) plus the whole process's wall seconds and peak RSS."""
    report = run_measured([sys.executable, "-m", "benchmarks.scoring_worker", variant, str(src), str(out),
                           "--model", str(model)], cores=cores)
    result = json.loads(report["stdout"].strip().splitlines()[-1])
    result["peak_rss_mib"] = report["peak_rss_mib"]
    result["process_seconds"] = report["wall"]
    return result


#: A variant that ends with this scores with the second model (``interleaved_workers``' ``models``).
SECOND = "/second"


def interleaved_workers(variants: list[str], src: Path, workdir: Path, model: Path, repeats: int,
                        rows: int, cores: list[int] | None = None,
                        second_model: Path | None = None) -> dict[str, dict[str, Any]]:
    """A B C A B C ...: per variant, medians and ranges of seconds, rows/s, set-up, whole-process seconds and
    peak RSS. A variant named ``WORKER_VARIANT/second`` runs that worker variant on ``second_model``."""
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for _ in range(repeats):
        for variant in variants:
            worker = variant.removesuffix(SECOND)
            out = workdir / f"{variant.replace('/', '-')}{'.parquet' if 'parquet-' in variant else '.csv'}"
            which = second_model if variant.endswith(SECOND) else model
            assert which is not None, f"{variant} needs a second model"
            runs[variant].append(run_worker(worker, src, out, which, cores))
            out.unlink(missing_ok=True)
    return {variant: worker_stats(samples, rows) for variant, samples in runs.items()}


def worker_stats(samples: list[dict[str, Any]], rows: int) -> dict[str, Any]:
    return {
        "seconds": summarize([r["seconds"] for r in samples]),
        "rows_per_second": summarize([rows / r["seconds"] for r in samples]),
        "setup_seconds": summarize([r["setup_seconds"] for r in samples]),
        "process_seconds": summarize([r["process_seconds"] for r in samples]),
        "peak_rss_mib": summarize([r["peak_rss_mib"] for r in samples]),
        "stages": _median_stages([r.get("stages") or {} for r in samples]),
    }


def _median_stages(samples: list[dict[str, Any]]) -> dict[str, Any]:
    keys = {k for s in samples for k, v in s.items() if isinstance(v, float)}
    out: dict[str, Any] = {k: summarize([s.get(k, 0.0) for s in samples])["median"] for k in sorted(keys)}
    engines = {s.get("engine") for s in samples if s.get("engine")}
    if engines:
        out["engine"] = engines.pop()
    return out
