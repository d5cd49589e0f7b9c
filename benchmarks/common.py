"""Shared benchmark plumbing: machine facts, interleaved repeats, medians, Markdown and JSON output."""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
PACKAGES = ("tensorflow", "onnxruntime", "onnx", "tf2onnx", "numpy", "pandas", "polars", "pyarrow")


def machine_info() -> dict[str, Any]:
    """CPU model, cores, memory, OS and library versions: printed and stored with every result."""
    from importlib import metadata

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        memory = round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30, 1)
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        # The machine may be shared: how busy it was when the numbers were taken (at the end of a run the 1-,
        # 5- and 15-minute averages cover it).
        "load_average_1_5_15min": [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


def interleaved(variants: dict[str, Callable[[], Any]], repeats: int) -> dict[str, list[dict[str, float]]]:
    """Run A B C A B C ... ``repeats`` times; per run, wall and process CPU seconds.

    Interleaving spreads the machine's background noise over every variant alike.
    """
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, run in variants.items():
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            runs[name].append({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu})
    return runs


def summarize(samples: list[float]) -> dict[str, float]:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "n": len(samples)}


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_result(name: str, payload: dict[str, Any], directory: Path = RESULTS) -> Path:
    """Write ``<name>.json`` with the machine info alongside the numbers."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(json.dumps({"machine": machine_info(), **payload}, indent=2) + "\n")
    return path


def machine_line(info: dict[str, Any] | None = None) -> str:
    info = info or machine_info()
    load = info.get("load_average_1_5_15min")
    busy = f", load average {'/'.join(f'{v:.1f}' for v in load)} (1/5/15 min)" if load else ""
    return f"{info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB, Python {info['python']}{busy}"


#: Runs in a small, fresh interpreter: on Linux a child's ru_maxrss starts at the RSS of the process it was
#: forked from (the kernel carries the old address space's high-water mark across exec), so a benchmark
#: holding hundreds of MiB must not fork the measured command itself.
_LAUNCHER = """
import json, os, subprocess, sys, time
cores, stdin = json.loads(sys.argv[1]), sys.argv[2]
if cores:
    os.sched_setaffinity(0, cores)  # inherited by the command and every thread it starts
start = time.perf_counter()
with open(stdin or os.devnull, "rb") as source:
    proc = subprocess.Popen(sys.argv[3:], stdin=source, stdout=subprocess.PIPE)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - start
print(json.dumps({"wall": wall, "maxrss_kib": usage.ru_maxrss, "returncode": os.waitstatus_to_exitcode(status),
                  "cpu": usage.ru_utime + usage.ru_stime, "stdout": out.decode(errors="replace")}))
"""


def run_measured(command: list[str], cwd: Path | None = None, cores: list[int] | None = None,
                 stdin: Path | None = None, check: bool = True, timeout: float | None = None) -> dict[str, Any]:
    """Run ``command`` (pinned to ``cores`` if given, reading ``stdin`` if given); its wall and CPU seconds,
    peak RSS (MiB), stdout, stderr and exit code. Raises if it fails (unless not ``check``) or runs over ``timeout``
    seconds (then it is killed: subprocess.TimeoutExpired)."""
    # A session of its own, so that a run over ``timeout`` is killed with the command it launched.
    proc = subprocess.Popen([sys.executable, "-c", _LAUNCHER, json.dumps(cores or []), str(stdin or ""), *command],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    done = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    if done.returncode != 0:
        raise RuntimeError(f"launcher failed: {done.stderr.strip()[-500:]}")
    report = json.loads(done.stdout)
    if report["returncode"] != 0 and check:
        tail = " / ".join(done.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"{' '.join(command)} exited {report['returncode']}: {tail}")
    return {"wall": report["wall"], "cpu": report["cpu"], "peak_rss_mib": report["maxrss_kib"] / 1024,
            "stdout": report["stdout"], "stderr": done.stderr, "returncode": report["returncode"]}


def default_sigint() -> None:
    """For ``preexec_fn``: a child that will be sent Ctrl-C gets SIGINT's default disposition back. A process
    started from a background shell (``cmd &``, nohup) inherits SIGINT ignored, and so would the child."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def core_sets(available: list[int] | None = None) -> dict[int, list[int]]:
    """Core counts to pin to, 1, 2, 4, ... up to what this process may use, each the first n of its cores."""
    cores = sorted(available if available is not None else os.sched_getaffinity(0))
    counts = [n for n in (1, 2, 4, 8, 16, 32, 64, 128) if n <= len(cores)]
    return {n: cores[:n] for n in counts}


def wait_until_writing(directory: Path, name: str, running: Callable[[], bool], timeout: float = 120.0) -> None:
    """Until a scorer writing ``directory/name`` has started: a temporary file of its own, or polars' file in
    its temporary directory (the streaming engine's sink has begun). Its model is loaded by then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and running():
        for tmp in directory.glob(f".{name}.*.tmp"):
            try:
                if not tmp.is_dir() or any(tmp.iterdir()):
                    return
            except OSError:  # removed meanwhile
                continue
        time.sleep(0.01)
    raise RuntimeError(f"the scorer never started writing {directory / name}")


class _DefaultsShown(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's own, except where the help text already says what the default is."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        help_text = action.help or ""
        return help_text if "default" in help_text else super()._get_help_string(action)


def directory(text: str) -> Path:
    """An option's directory, created with its parents if missing (as ``mkdir -p``)."""
    path = Path(text)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot create directory {text}: {exc.strerror}") from None
    return path


def benchmark_parser(prog: str, description: str | None) -> argparse.ArgumentParser:
    """Every benchmark's command line: each option's default shown in --help, and --version."""
    from contract.cli import add_standard_options

    parser = argparse.ArgumentParser(prog=prog, description=description, formatter_class=_DefaultsShown)
    add_standard_options(parser)
    return parser


def scorer_parser(prog: str, description: str | None, rows: int, repeats: int, quick: str) -> argparse.ArgumentParser:
    """The options every scorer benchmark takes: model, rows, repeats, --quick, where results and data go."""
    parser = benchmark_parser(prog, description)
    parser.add_argument("--model", type=Path, default=Path("artifacts/export"), help="export directory")
    parser.add_argument("--rows", type=int, default=rows, help="generated input rows")
    parser.add_argument("--repeats", type=int, default=repeats, help="interleaved runs of every variant")
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="where the JSON goes")
    parser.add_argument("--workdir", type=directory, default=None,
                        help="where the generated CSVs go, created if missing (default: a temp dir)")
    return parser
