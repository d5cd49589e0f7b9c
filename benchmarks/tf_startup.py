"""TensorFlow's start-up in the TF scorer: importing it (as before: everything; now: without Keras), loading the
SavedModel, the first call; each variant in a fresh process, interleaved."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from benchmarks.common import (
    RESULTS,
    benchmark_parser,
    machine_info,
    machine_line,
    markdown_table,
    run_measured,
    summarize,
    write_result,
)

#: Runs in a fresh interpreter: argv = saved_model_dir, "lean" or "full".
_PROBE = """
import json, resource, sys, time
start = time.perf_counter()
import numpy as np
from contract.tfquiet import import_tensorflow
tf = import_tensorflow(lean=sys.argv[2] == "lean")
imported = time.perf_counter()
signature = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
loaded = time.perf_counter()
signature(features=tf.constant(np.zeros((1, 30), np.float32)))
called = time.perf_counter()
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"import": imported - start, "load": loaded - imported, "first_call": called - loaded,
                  "cpu": usage.ru_utime + usage.ru_stime, "modules": len(sys.modules)}))
"""
MODES = ("full", "lean")


def measure(saved_model: Path, repeats: int) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    for _ in range(repeats):
        for mode in MODES:
            report = run_measured([sys.executable, "-c", _PROBE, str(saved_model), mode])
            sample = json.loads(report["stdout"].strip().splitlines()[-1])
            sample["process"] = report["wall"]
            sample["peak_rss_mib"] = report["peak_rss_mib"]
            runs[mode].append(sample)
    keys = ("import", "load", "first_call", "process", "cpu", "peak_rss_mib", "modules")
    return {mode: {k: summarize([r[k] for r in samples]) for k in keys} for mode, samples in runs.items()}


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser("python -m benchmarks.tf_startup", __doc__)
    parser.add_argument("--model", type=Path, default=Path("artifacts/export"), help="export directory")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs per variant")
    parser.add_argument("--quick", action="store_true", help="1 repeat (smoke test)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    load = [os.getloadavg()]
    stats = measure(args.model.resolve() / "saved_model", repeats)
    load.append(os.getloadavg())
    rows = [[mode, *(f"{s[k]['median']:.2f}" for k in ("import", "load", "first_call", "process", "cpu")),
             f"{s['peak_rss_mib']['median']:.0f}", f"{s['modules']['median']:.0f}"] for mode, s in stats.items()]
    print(f"TensorFlow start-up, median of {repeats} interleaved fresh processes, on {machine_line(machine_info())}; "
          f"load averages {min(l[0] for l in load):.1f} to {max(l[0] for l in load):.1f}\n")
    print(markdown_table(["import", "import s", "SavedModel load s", "first call s", "process s", "CPU s",
                          "peak RSS MiB", "modules"], rows))
    name = "tf_startup_quick" if args.quick else "tf_startup"
    print(f"\nwrote {write_result(name, {'repeats': repeats, 'stats': stats, 'load_average_1_5_15min': load}, args.results_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
