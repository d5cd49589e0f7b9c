"""Online scoring: python -m scoring.serve under a closed-loop load on 127.0.0.1 (both protocols), side by side with
the model alone in-process and a plain FastAPI + onnxruntime /invocations handler. Throughput and p50/p99 latency
at several concurrencies, for single-row and 100-row requests; each run bounded in requests and seconds."""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, benchmark_parser, machine_info, machine_line, markdown_table, write_result

OURS_MLFLOW = "ours, MLflow JSON (/invocations)"
OURS_V2 = "ours, v2 binary tensors (tritonclient's default)"
PEER = "plain FastAPI + onnxruntime (/invocations)"
IN_PROCESS = "model alone, in-process (onnxruntime)"
HTTP_VARIANTS = (OURS_MLFLOW, OURS_V2, PEER)
URL = re.compile(r"http://127\.0\.0\.1:(\d+)")


@dataclass(frozen=True)
class Settings:
    concurrency: tuple[int, ...]
    rows: tuple[int, ...]
    seconds: float  # per run: each run ends after this long ...
    max_requests: int  # ... or after this many requests, whichever comes first
    repeats: int


FULL = Settings((1, 8, 32, 64), (1, 100), 3.0, 100_000, 3)
QUICK = Settings((1, 8), (1, 100), 0.3, 300, 1)


# ------------------------------------------------------------------------------------------------ requests


def payloads(rows: np.ndarray, features: list[str]) -> dict[str, tuple[str, bytes, dict[str, str]]]:
    """Per variant: (path, body, headers) for the same rows."""
    split = json.dumps({"dataframe_split": {"columns": features, "data": rows.tolist()}}).encode()
    header = json.dumps({"inputs": [{"name": "features", "datatype": "FP32", "shape": list(rows.shape),
                                     "parameters": {"binary_data_size": rows.nbytes}}],
                         "parameters": {"binary_data_output": True}}).encode()
    json_type = {"Content-Type": "application/json"}
    return {OURS_MLFLOW: ("/invocations", split, json_type),
            OURS_V2: ("/v2/models/model/infer", header + rows.tobytes(),
                      {"Inference-Header-Content-Length": str(len(header))}),
            PEER: ("/invocations", split, json_type)}


def raw_request(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}",
             *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
    return status, await reader.readexactly(length)


async def _client(port: int, request: bytes, deadline: float, budget: list[int], latencies: list[float]) -> None:
    """One connection, one request at a time (closed loop), until the time or the request budget runs out."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while budget[0] > 0 and time.perf_counter() < deadline:
            budget[0] -= 1
            started = time.perf_counter()
            writer.write(request)
            status, body = await _response(reader)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                raise RuntimeError(f"HTTP {status}: {body[:300]!r}")
    finally:
        writer.close()


def load(port: int, request: bytes, concurrency: int, seconds: float, max_requests: int) -> dict[str, float]:
    """``concurrency`` clients for ``seconds`` or ``max_requests`` in all: requests/s and latency percentiles."""
    import uvloop

    latencies: list[float] = []

    async def run() -> float:
        budget = [max_requests]
        started = time.perf_counter()
        await asyncio.gather(*(_client(port, request, started + seconds, budget, latencies)
                               for _ in range(concurrency)))
        return time.perf_counter() - started

    wall = uvloop.run(run())
    ms = np.array(latencies) * 1000
    return {"requests": len(latencies), "seconds": wall, "requests_per_second": len(latencies) / wall,
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def in_process(predict: Callable[[np.ndarray], Any], x: np.ndarray, seconds: float, max_calls: int) -> dict[str, float]:
    """The model alone: back-to-back calls on the same rows, as the server's runtime makes them."""
    latencies = []
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    while len(latencies) < max_calls and time.perf_counter() < deadline:
        t = time.perf_counter()
        predict(x)
        latencies.append(time.perf_counter() - t)
    wall = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {"requests": len(latencies), "seconds": wall, "requests_per_second": len(latencies) / wall,
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


# ------------------------------------------------------------------------------------------------- servers


@contextmanager
def server(args: list[str]) -> Iterator[int]:
    """A server subprocess (``python -m ...``) on a free port of 127.0.0.1; stopped with SIGTERM."""
    proc = subprocess.Popen([sys.executable, "-m", *args, "--port", "0"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        port = None
        for line in proc.stderr:
            if (match := URL.search(line)) is not None:
                port = int(match.group(1))
                break
        if port is None:
            raise RuntimeError(f"python -m {args[0]} did not start (exit {proc.wait()})")
        threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep the pipe drained
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def summarize_runs(runs: list[dict[str, float]]) -> dict[str, Any]:
    """Medians over the interleaved repeats."""
    return {key: statistics.median(r[key] for r in runs) for key in ("requests_per_second", "p50_ms", "p99_ms")} | {
        "requests": sum(int(r["requests"]) for r in runs), "runs": len(runs)}


def measure(model: Path, settings: Settings) -> dict[str, Any]:
    from contract.artifacts import resolve_model
    from scoring.runtimes import load_runtime

    runtime = load_runtime(resolve_model(model, "onnx"))
    from model.wdbc import load_bundled

    table = load_bundled()
    features = runtime.feature_names
    data = table.select(features).to_numpy().astype(np.float32)
    results: dict[str, dict[str, dict[str, Any]]] = {}
    with ExitStack() as stack:
        ours = stack.enter_context(server(["scoring.serve", "--model", str(model)]))
        peer = stack.enter_context(server(["benchmarks.serving_peer", "--model", str(runtime.path)]))
        ports = {OURS_MLFLOW: ours, OURS_V2: ours, PEER: peer}
        for rows in settings.rows:
            x = np.ascontiguousarray(np.resize(data, (rows, data.shape[1])))
            requests = {name: raw_request(*p) for name, p in payloads(x, features).items()}
            for name, request in requests.items():  # warm-up, and a check that every variant answers
                load(ports[name], request, 4, 0.2, 200)
            runs: dict[tuple[str, int], list[dict[str, float]]] = {}
            for _ in range(settings.repeats):
                for concurrency in settings.concurrency:
                    for name, request in requests.items():  # interleaved: A B C A B C ...
                        sample = load(ports[name], request, concurrency, settings.seconds, settings.max_requests)
                        runs.setdefault((name, concurrency), []).append(sample)
                    alone = in_process(runtime.predict, x, settings.seconds / 3, settings.max_requests)
                    runs.setdefault((IN_PROCESS, 1), []).append(alone)
            results[str(rows)] = {f"{name} @ {c}": summarize_runs(r) | {"variant": name, "concurrency": c}
                                  for (name, c), r in runs.items()}
    return results


def ratios(results: dict[str, Any], settings: Settings) -> dict[str, Any]:
    single = results.get("1", {})
    out: dict[str, Any] = {}
    aim = 32 if 32 in settings.concurrency else max(settings.concurrency)
    peer = single.get(f"{PEER} @ {aim}")
    for name in (OURS_MLFLOW, OURS_V2):
        ours = single.get(f"{name} @ {aim}")
        if ours and peer:
            out[f"throughput vs plain FastAPI, 1 row, concurrency {aim}: {name}"] = round(
                ours["requests_per_second"] / peer["requests_per_second"], 2)
        alone = single.get(f"{name} @ 1")
        if alone:
            out[f"p99 ms, 1 row, concurrency 1: {name}"] = round(alone["p99_ms"], 3)
    return out


def table_rows(results: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for size, cells in results.items():
        for cell in sorted(cells.values(), key=lambda c: (c["concurrency"], c["variant"])):
            rate = cell["requests_per_second"]
            rows.append([size, cell["concurrency"], cell["variant"], f"{rate:,.0f}", f"{rate * int(size):,.0f}",
                         f"{cell['p50_ms']:.2f}", f"{cell['p99_ms']:.2f}"])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser("python -m benchmarks.serving", __doc__)
    parser.add_argument("--model", type=Path, default=Path("artifacts/export"), help="export directory")
    parser.add_argument("--quick", action="store_true", help="concurrency 1 and 8, 0.3 s runs, 1 repeat (smoke test)")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per run (default: 3, or 0.3 with --quick)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    if args.seconds is not None:
        settings = Settings(settings.concurrency, settings.rows, args.seconds, settings.max_requests, settings.repeats)
    print(f"machine: {machine_line(machine_info())}; load average {os.getloadavg()}", file=sys.stderr)
    load_before = os.getloadavg()
    results = measure(args.model, settings)
    load_after = os.getloadavg()
    found = ratios(results, settings)
    print(markdown_table(["rows/request", "concurrency", "variant", "requests/s", "rows/s", "p50 ms", "p99 ms"],
                         table_rows(results)))
    for key, value in found.items():
        print(f"{key}: {value}")
    name = "serving_quick" if args.quick else "serving"
    payload = {"quick": args.quick, "settings": settings.__dict__, "results": results, "ratios": found,
               "load_average_1_5_15min": [load_before, load_after]}
    print(f"\nwrote {write_result(name, payload, args.results_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
