"""How soon the scorer stops on SIGINT and SIGTERM, per runtime and engine, and what it leaves behind."""

from __future__ import annotations

import gzip
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    default_sigint,
    machine_info,
    machine_line,
    markdown_table,
    scorer_parser,
    wait_until_writing,
    write_result,
)
from benchmarks.datagen import write_csv

SIGNALS = (signal.SIGINT, signal.SIGTERM)
RUNTIMES = ("onnx", "tf")


def stop_once(src: Path, workdir: Path, model: Path, runtime: str, signum: int, settle: float) -> dict[str, Any]:
    """One scorer run (one inference call per row, so it is still scoring), signalled as a terminal does:
    the whole process group. Seconds from the signal to the process's exit."""
    out = workdir / "out.csv"
    proc = subprocess.Popen([sys.executable, "-m", "scoring.batch", str(src), str(out), "--runtime", runtime,
                             "--model", str(model), "--batch-rows", "1", "--quiet"],
                            stderr=subprocess.DEVNULL, start_new_session=True, preexec_fn=default_sigint)
    wait_until_writing(workdir, out.name, lambda: proc.poll() is None)
    time.sleep(settle)  # well inside the run, not at its first morsel
    sent = time.perf_counter()
    os.killpg(proc.pid, signum)
    code = proc.wait()
    seconds = time.perf_counter() - sent
    left = [p.name for p in workdir.iterdir()]
    return {"seconds": seconds, "exit_code": code, "left_behind": left}


def main(argv: list[str] | None = None) -> int:
    parser = scorer_parser("python -m benchmarks.signals", __doc__, 400_000, 3, "onnx only, 1 repeat (smoke test)")
    args = parser.parse_args(argv)
    runtimes, repeats = (("onnx",), 1) if args.quick else (RUNTIMES, args.repeats)
    runs: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        plain = write_csv(Path(tmp) / "in.csv", args.rows)
        packed = plain.with_suffix(".csv.gz")
        packed.write_bytes(gzip.compress(plain.read_bytes(), compresslevel=1))
        inputs = {"streaming": plain, "blocks": packed}
        for _ in range(repeats):  # interleaved
            for runtime in runtimes:
                for engine, src in inputs.items():
                    for signum in SIGNALS:
                        workdir = Path(tempfile.mkdtemp(dir=tmp))
                        key = f"{runtime} {engine} {signal.Signals(signum).name}"
                        runs.setdefault(key, []).append(
                            stop_once(src, workdir, args.model.resolve(), runtime, signum, 0 if args.quick else 0.5))
    rows, summary = [], {}
    for key, samples in runs.items():
        seconds = [s["seconds"] for s in samples]
        summary[key] = {"seconds_median": statistics.median(seconds), "seconds_max": max(seconds),
                        "exit_codes": sorted({s["exit_code"] for s in samples}),
                        "left_behind": sorted({n for s in samples for n in s["left_behind"]})}
        s = summary[key]
        rows.append([*key.split(), f"{s['seconds_median']:.2f}", f"{s['seconds_max']:.2f}",
                     ", ".join(map(str, s["exit_codes"])), ", ".join(s["left_behind"]) or "nothing"])
    info = machine_info()
    print(f"Stopping on a signal, {args.rows:,} rows at --batch-rows 1, {repeats} interleaved runs, on "
          f"{machine_line(info)}\n")
    print(markdown_table(["runtime", "engine", "signal", "s to exit (median)", "s (max)", "exit code", "left behind"],
                         rows))
    name = "signals_quick" if args.quick else "signals"
    payload = {"rows": args.rows, "repeats": repeats, "runs": runs, "summary": summary}
    print(f"\nwrote {write_result(name, payload, args.results_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
