"""python -m scoring.serve end to end: the server as a real subprocess on 127.0.0.1, real clients (tritonclient,
plain HTTP), real signals. Its answers are compared bit for bit with the batch scorer's on the same rows."""

from __future__ import annotations

import http.client
import json
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from contract.artifacts import resolve_model
from contract.verify import read_metadata
from scoring.batch import main as score_main
from scoring.batch import score_csv

tritonclient_http = pytest.importorskip("tritonclient.http")

URL = re.compile(r" at (http://([\d.]+):(\d+))")
#: What TensorFlow, absl, CUDA and oneDNN print by themselves (as in tests/test_cli.py).
TF_NOISE = re.compile(r"^(WARNING: All log messages|[IWEF]\d{4} [\d:.]+ +\d+ \S+\.cc:\d+\]|.*TF_ENABLE_ONEDNN_OPTS|"
                      r".*cuInit)", re.M)
START_TIMEOUT = 120.0


class Server:
    """``python -m scoring.serve`` in a subprocess; its stderr collected by a thread; stopped with SIGTERM."""

    def __init__(self, spawn, *args: str) -> None:
        self.proc = spawn([sys.executable, "-m", "scoring.serve", "--port", "0", *args], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._started = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self._started.wait(START_TIMEOUT) or self.proc.poll() is not None and not self.url_match:
            self.proc.kill()
            raise AssertionError(f"the server did not start: {self.stderr[-3000:]}")
        self.base, self.host, self.port = self.url_match.group(1), self.url_match.group(2), int(self.url_match.group(3))

    url_match: re.Match | None = None

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)
            if self.url_match is None and (match := URL.search(line)):
                self.url_match = match
                self._started.set()
        self._started.set()  # ended before it started

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    def request(self, method: str, path: str, body: bytes | str | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def post_json(self, path: str, payload: object | str, **headers: str) -> tuple[int, object]:
        body = payload if isinstance(payload, str) else json.dumps(payload)
        status, _, data = self.request("POST", path, body, {"Content-Type": "application/json", **headers})
        return status, json.loads(data)

    def triton(self, **kwargs):
        return tritonclient_http.InferenceServerClient(f"{self.host}:{self.port}", **kwargs)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)


# ------------------------------------------------------------------------------------------- reference results


@pytest.fixture(scope="module")
def features(export_dir: Path) -> list[str]:
    return read_metadata(resolve_model(export_dir, "onnx")).feature_names


@pytest.fixture(scope="module")
def table(wdbc_csv: Path) -> pl.DataFrame:
    """The WDBC rows as text, exactly as in the CSV the batch scorer reads."""
    return pl.read_csv(wdbc_csv, infer_schema=False)


def reference(export_dir: Path, wdbc_csv: Path, runtime: str, tmp_path: Path) -> pl.DataFrame:
    path = tmp_path / f"scored-{runtime}.csv"
    score_csv(wdbc_csv, path, model=str(export_dir), runtime=runtime)
    return pl.read_csv(path, schema_overrides={"probability": pl.Float32, "label": pl.Int64})


@pytest.fixture(scope="module")
def scored(export_dir: Path, wdbc_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, pl.DataFrame]:
    """The batch scorer's output for the WDBC rows on each runtime: what every server answer is compared with."""
    tmp = tmp_path_factory.mktemp("scored")
    return {runtime: reference(export_dir, wdbc_csv, runtime, tmp) for runtime in ("onnx", "tf")}


def bits(values: object) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).view(np.uint32)


JSON_NUMBER = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?")


def cell(text: str) -> str:
    """A CSV cell in JSON: a number as its own text (so both parse the same digits), anything else a string."""
    return text if JSON_NUMBER.fullmatch(text) else json.dumps(text)


def split_payload(table: pl.DataFrame, columns: list[str], rows: list[int]) -> str:
    """``dataframe_split`` JSON whose numbers are the CSV's own text."""
    data = ",".join("[" + ",".join(cell(table[c][r]) for c in columns) + "]" for r in rows)
    return '{"dataframe_split": {"columns": ' + json.dumps(columns) + ', "data": [' + data + "]}}"


def x_of(table: pl.DataFrame, features: list[str], rows: list[int] | None = None) -> np.ndarray:
    """The features as float32, parsed from the CSV's text by polars as the batch scorer parses them."""
    frame = table.select(features).cast(pl.Float32)
    return frame.to_numpy()[rows if rows is not None else slice(None)].astype(np.float32, copy=False)


# ---------------------------------------------------------------------------------------------------- servers


@pytest.fixture(scope="module")
def module_spawn():
    from tests.conftest import Children

    with Children() as children:
        yield children


@pytest.fixture(scope="module")
def server(export_dir: Path, module_spawn) -> Iterator[Server]:
    """One ONNX server for the tests that only send requests."""
    running = Server(module_spawn, "--model", str(export_dir))
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="module", params=["onnx", pytest.param("tf", marks=pytest.mark.slow)])
def served(request: pytest.FixtureRequest, export_dir: Path, module_spawn) -> Iterator[tuple[Server, str]]:
    """A server per runtime, for the tests that compare answers with the batch scorer's on that runtime."""
    if request.param == "onnx":
        yield request.getfixturevalue("server"), "onnx"
        return
    running = Server(module_spawn, "--model", str(export_dir), "--runtime", "tf")
    yield running, "tf"
    stopping = time.monotonic()
    assert running.stop() == 0 and time.monotonic() - stopping < 10  # TensorFlow's exit-time clean-up skipped
    assert not TF_NOISE.search(running.stderr), running.stderr[:2000]  # TensorFlow's own lines stay hidden


# ------------------------------------------------------------------------------------- answers, bit for bit


def test_tritonclient_binary_and_json_tensors_give_the_batch_scorers_results(served, table, features, scored) -> None:
    server, runtime = served
    client = server.triton()
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("model")
    meta = client.get_model_metadata("model")
    assert meta["inputs"] == [{"name": "features", "datatype": "FP32", "shape": [-1, len(features)]}]
    assert {o["name"]: o["datatype"] for o in meta["outputs"]} == {"probability": "FP32", "logit": "FP32",
                                                                    "label": "INT64"}
    assert meta["platform"] == {"onnx": "onnxruntime_onnx", "tf": "tensorflow_savedmodel"}[runtime]
    x = x_of(table, features)
    want = scored[runtime]
    for binary in (True, False):
        tensor = tritonclient_http.InferInput("features", list(x.shape), "FP32")
        tensor.set_data_from_numpy(x, binary_data=binary)
        result = client.infer("model", [tensor]) if binary else client.infer(
            "model", [tensor], outputs=[tritonclient_http.InferRequestedOutput(n, binary_data=False)
                                        for n in ("label", "probability")])
        assert (bits(result.as_numpy("probability")) == bits(want["probability"])).all()
        assert (result.as_numpy("label") == want["label"].to_numpy()).all()
        outputs = result.get_response()["outputs"]
        assert all(("binary_data_size" in o.get("parameters", {})) == binary for o in outputs)
        assert [o["name"] for o in outputs] == (["probability", "logit", "label"] if binary else ["label", "probability"])
    # tritonclient's compressed requests (Content-Encoding: gzip or deflate).
    tensor = tritonclient_http.InferInput("features", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x)
    for algorithm in ("gzip", "deflate"):
        result = client.infer("model", [tensor], request_compression_algorithm=algorithm)
        assert (bits(result.as_numpy("probability")) == bits(want["probability"])).all()


def test_requested_outputs_by_name_and_binary_data_per_output(server, table, features, scored) -> None:
    x = x_of(table, features, [0, 1, 2])
    tensor = tritonclient_http.InferInput("features", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x)
    result = server.triton().infer("model", [tensor], outputs=[
        tritonclient_http.InferRequestedOutput("label", binary_data=True),
        tritonclient_http.InferRequestedOutput("logit", binary_data=False)])
    outputs = {o["name"]: o for o in result.get_response()["outputs"]}
    assert set(outputs) == {"label", "logit"}
    assert outputs["label"]["parameters"]["binary_data_size"] == 3 * 8 and "data" in outputs["logit"]
    assert result.as_numpy("label").tolist() == scored["onnx"]["label"][:3].to_list()
    assert result.as_numpy("probability") is None


def test_mlflow_payload_shapes_give_the_batch_scorers_results(served, table, features, scored) -> None:
    server, runtime = served
    rows = list(range(len(table)))
    want = scored[runtime]
    # Columns in another order, spelled differently (case, spaces for underscores), with extra columns.
    shuffled = random.Random(0).sample(features, len(features))
    spelled = {f: f.replace("_", " ").upper() if i % 3 == 0 else f for i, f in enumerate(features)}
    split = split_payload(table, ["id", *shuffled, "diagnosis"], rows).replace(
        json.dumps(["id", *shuffled, "diagnosis"]), json.dumps(["id", *[spelled[f] for f in shuffled], "diagnosis"]))
    records = "[" + ",".join("{" + ",".join(f'"{c}": {table[c][r]}' for c in shuffled) + ', "note": "x"}'
                             for r in rows) + "]"
    positional = "[" + ",".join("[" + ",".join(table[c][r] for c in features) + "]" for r in rows) + "]"
    columnar = "{" + ",".join(f'"{c}": [' + ",".join(table[c].to_list()) + "]" for c in shuffled) + "}"
    payloads = {"dataframe_split": split, "dataframe_records": '{"dataframe_records": ' + records + "}",
                "instances (records)": '{"instances": ' + records + "}",
                "instances (rows)": '{"instances": ' + positional + "}",
                "inputs (rows)": '{"inputs": ' + positional + "}", "inputs (columns)": '{"inputs": ' + columnar + "}"}
    for shape, body in payloads.items():
        status, answer = server.post_json("/invocations", body)
        assert status == 200, (shape, answer)
        got = answer["predictions"]
        assert set(got[0]) == {"probability", "label"}, shape
        assert (bits([p["probability"] for p in got]) == bits(want["probability"])).all(), shape
        assert [p["label"] for p in got] == want["label"].to_list(), shape


def test_csv_body_gives_the_batch_scorers_results(served, wdbc_csv, scored) -> None:
    server, runtime = served
    status, headers, data = server.request("POST", "/invocations", wdbc_csv.read_bytes(),
                                           {"Content-Type": "text/csv; charset=utf-8"})
    assert status == 200 and headers["content-type"] == "application/json"
    got = json.loads(data)["predictions"]
    assert (bits([p["probability"] for p in got]) == bits(scored[runtime]["probability"])).all()


# ------------------------------------------------------------------------------------------- bad requests

FEATURE_SHAPE_ROW = {"name": "features", "datatype": "FP32", "shape": [1, 30]}


def bad_requests(table: pl.DataFrame, features: list[str]) -> list[tuple[str, int, str, str, dict[str, str], str]]:
    """(what, status, path, body, headers, a meaningful part of the message)."""
    good = split_payload(table, features, [0])
    header = ",".join(features)
    row = ",".join(table[f][0] for f in features)
    renamed = good.replace('"radius_mean"', '"Radius Mean"').replace('"texture_mean"', '"RADIUS_MEAN"')
    values = [float(table[f][0]) for f in features]
    infer = "/v2/models/model/infer"
    json_type = {"Content-Type": "application/json"}
    return [
        ("malformed JSON", 400, "/invocations", good[:-5], json_type, "not valid JSON"),
        ("malformed JSON, v2", 400, infer, '{"inputs": [', {}, "not valid JSON"),
        ("malformed CSV", 400, "/invocations", f"{header}\n{row}\n1,2,3\n", {"Content-Type": "text/csv"},
         r"line 3.*expected 30 fields"),
        ("missing column", 400, "/invocations", good.replace('"radius_mean"', '"radius"'), json_type,
         r"missing 1 feature columns the model needs: 'radius_mean'"),
        ("ambiguous column", 400, "/invocations", renamed, json_type, r"'radius_mean' matches 2 columns"),
        ("non-numeric cell", 400, "/invocations",
         good.replace("[" + table[features[0]][0] + ",", '["abc",', 1), json_type,
         r"row 1, column 'radius_mean': expected a number, got 'abc'"),
        ("non-numeric CSV cell", 400, "/invocations", f"{header}\n{row}\n{row.replace(table[features[0]][0], 'x', 1)}\n",
         {"Content-Type": "text/csv"}, r"line 3, column 1 \('radius_mean'\): expected a number, got 'x'"),
        ("null cell", 400, "/invocations", good.replace("[" + table[features[0]][0] + ",", "[null,", 1), json_type,
         r"row 1, column 'radius_mean': expected a number, got null"),
        ("wrong tensor width", 400, infer, json.dumps({"inputs": [{**FEATURE_SHAPE_ROW, "shape": [1, 29],
                                                                   "data": values[:29]}]}), {}, r"29 columns"),
        ("shape/data mismatch", 400, infer, json.dumps({"inputs": [{**FEATURE_SHAPE_ROW, "shape": [2, 30],
                                                                    "data": values}]}), {}, r"needs 60 values.* has 30"),
        ("wrong datatype", 400, infer, json.dumps({"inputs": [{**FEATURE_SHAPE_ROW, "datatype": "FP64",
                                                               "data": values}]}), {}, r"datatype 'FP64'"),
        ("unknown output", 400, infer, json.dumps({"inputs": [{**FEATURE_SHAPE_ROW, "data": values}],
                                                   "outputs": [{"name": "score"}]}), {}, r"unknown output 'score'"),
        ("binary size mismatch", 400, infer,
         json.dumps({"inputs": [{**FEATURE_SHAPE_ROW, "parameters": {"binary_data_size": 119}}]}) + "x" * 119,
         {"Inference-Header-Content-Length": str(len(json.dumps({"inputs": [{**FEATURE_SHAPE_ROW, "parameters": {
             "binary_data_size": 119}}]})))}, r"binary_data_size is 119.* 120 bytes"),
        ("unknown model", 404, "/v2/models/other/infer", json.dumps({"inputs": []}), {}, r"unknown model 'other'"),
        ("unknown model metadata", 404, "/v2/models/other", "", {}, r"unknown model 'other'"),
        ("unsupported content type", 415, "/invocations", good, {"Content-Type": "text/plain"},
         r"unsupported Content-Type 'text/plain'"),
        ("unsupported content type, v2", 415, infer, good, {"Content-Type": "text/csv"}, r"unsupported Content-Type"),
        ("unsupported encoding", 415, "/invocations", good, {**json_type, "Content-Encoding": "br"}, r"'br'"),
        ("no such endpoint", 404, "/predict", good, json_type, r"no such endpoint: POST /predict"),
        ("wrong method", 405, "/invocations", "", {}, r"GET is not allowed"),
    ]


def test_every_bad_request_gets_its_status_and_a_json_error_and_the_server_keeps_serving(server, table,
                                                                                        features, scored) -> None:
    good = split_payload(table, features, [5])
    for what, status, path, body, headers, message in bad_requests(table, features):
        method = "GET" if path == "/v2/models/other" or what == "wrong method" else "POST"
        got, response_headers, data = server.request(method, path, body or None, headers)
        assert got == status, (what, data)
        assert response_headers["content-type"] == "application/json", what
        error = json.loads(data)
        text = error["error"] if path.startswith("/v2") else error["message"]
        assert re.search(message, text), (what, text)
        if not path.startswith("/v2"):
            assert error["error_code"] in ("BAD_REQUEST", "RESOURCE_DOES_NOT_EXIST"), what
        assert "Traceback" not in data.decode()
        # ... and the server still answers correctly.
        code, answer = server.post_json("/invocations", good)
        assert code == 200 and bits(answer["predictions"][0]["probability"]) == bits(scored["onnx"]["probability"][5])
    assert "Traceback" not in server.stderr


def test_a_body_over_the_limit_gets_413_before_it_is_read(server) -> None:
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100000000\r\n\r\n" + b"[" * 1000)  # 1 KB of the 100 MB announced
        response = sock.makefile("rb").read()  # the server answers and closes without waiting for the rest
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ") and b"connection: close" in head.lower()
    assert "100,000,000 bytes" in json.loads(body)["message"]
    # A chunked body (no Content-Length) is counted as it arrives: tests/test_serve_units.py.


def test_health_version_and_metrics(server) -> None:
    assert server.request("GET", "/ping")[0] == 200 and server.request("GET", "/health")[0] == 200
    status, _, data = server.request("GET", "/version")
    assert status == 200 and re.fullmatch(r"\d+\.\d+\.\d+.*", data.decode())
    status, _, data = server.request("GET", "/v2")
    assert status == 200 and "binary_tensor_data" in json.loads(data)["extensions"]
    server.request("GET", "/v2/models/nope")
    status, headers, data = server.request("GET", "/metrics")
    text = data.decode()
    assert status == 200 and headers["content-type"].startswith("text/plain")
    assert re.search(r'wdbc_serve_requests_total\{method="GET",route="/v2/models/\{name\}",status="404"\} [1-9]', text)
    assert re.search(r'wdbc_serve_request_duration_seconds_count\{route="/ping"\} [1-9]', text)
    assert re.search(r"wdbc_serve_batch_rows_count [1-9]", text)
    assert re.search(r"wdbc_serve_rows_scored_total [1-9]", text)
    # No --verbose: no access-log lines.
    assert not re.search(r'"GET /metrics HTTP', server.stderr)


# --------------------------------------------------------------------------------------------- under load


@pytest.mark.slow
def test_64_concurrent_clients_get_only_correct_answers(server, table, features, scored) -> None:
    want = scored["onnx"]
    x = x_of(table, features)
    n = len(table)

    def client(seed: int) -> int:
        rng = random.Random(seed)
        conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
        checked = 0
        try:
            for i in range(15):
                rows = rng.sample(range(n), rng.choice([1, 1, 3, 17]))
                if i % 2:
                    conn.request("POST", "/invocations", split_payload(table, features, rows),
                                 {"Content-Type": "application/json"})
                    got = [p["probability"] for p in json.loads(conn.getresponse().read())["predictions"]]
                else:
                    header = json.dumps({"inputs": [{"name": "features", "datatype": "FP32", "shape": [len(rows), 30],
                                                     "parameters": {"binary_data_size": len(rows) * 120}}],
                                         "outputs": [{"name": "probability", "parameters": {"binary_data": True}}]})
                    conn.request("POST", "/v2/models/model/infer", header.encode() + x[rows].tobytes(),
                                 {"Inference-Header-Content-Length": str(len(header))})
                    response = conn.getresponse()
                    length = int(response.getheader("Inference-Header-Content-Length"))
                    got = np.frombuffer(response.read()[length:], "<f4")
                assert (bits(got) == bits(want["probability"].to_numpy()[rows])).all()
                checked += 1
        finally:
            conn.close()
        return checked

    with ThreadPoolExecutor(64) as pool:
        assert sum(pool.map(client, range(64))) == 64 * 15
    metrics = server.request("GET", "/metrics")[2].decode()
    batches = float(re.search(r"wdbc_serve_batch_requests_count (\S+)", metrics).group(1))
    requests = float(re.search(r"wdbc_serve_batch_requests_sum (\S+)", metrics).group(1))
    assert requests > batches  # concurrent requests were joined into shared runtime calls


@pytest.mark.slow
def test_a_stalled_client_does_not_block_others_and_gets_408(export_dir, spawn, table, features) -> None:
    server = Server(spawn, "--model", str(export_dir), "--request-timeout", "1.5")
    try:
        with socket.create_connection((server.host, server.port), timeout=20) as stalled:
            stalled.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            b"Content-Length: 1000\r\n\r\n{\"dataframe_split\"")
            started = time.monotonic()
            for _ in range(5):  # answered meanwhile
                assert server.post_json("/invocations", split_payload(table, features, [0]))[0] == 200
            assert time.monotonic() - started < 1.5
            response = stalled.makefile("rb").read()
        assert response.startswith(b"HTTP/1.1 408 ") and b"--request-timeout" in response
    finally:
        assert server.stop() == 0


# ----------------------------------------------------------------------------------------- start and stop


@pytest.mark.slow
def test_sigterm_lets_the_request_in_flight_finish_refuses_new_ones_and_exits_0(export_dir, spawn, table,
                                                                                features, scored) -> None:
    server = Server(spawn, "--model", str(export_dir), "--verbose")
    body = split_payload(table, features, [7, 8]).encode()
    with socket.create_connection((server.host, server.port), timeout=20) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:50])
        time.sleep(0.3)  # the server has the request's head
        server.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # new connections are refused once the drain has begun
            try:
                socket.create_connection((server.host, server.port), timeout=1).close()
            except ConnectionRefusedError:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the server still accepts connections after SIGTERM")
        assert server.proc.poll() is None  # still finishing the request in flight
        sock.sendall(body[50:])
        response = sock.makefile("rb").read()
    head, _, data = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    got = [p["probability"] for p in json.loads(data)["predictions"]]
    assert (bits(got) == bits(scored["onnx"]["probability"][7:9])).all()
    assert server.proc.wait(10) == 0
    assert len(re.findall(r'"POST /invocations HTTP/1.1" 200', server.stderr)) == 1  # --verbose: one line each


@pytest.mark.slow
def test_a_mixed_export_refuses_to_start_with_the_batch_scorers_one_line(export_dir, other_export_dir, wdbc_csv,
                                                                         tmp_path, capsys) -> None:
    mixed = tmp_path / "mixed"
    shutil.copytree(export_dir, mixed)
    shutil.copy(other_export_dir / "model.onnx", mixed / "model.onnx")
    done = subprocess.run([sys.executable, "-m", "scoring.serve", "--model", str(mixed), "--port", "0"],
                          capture_output=True, text=True, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "not from the same export" in lines[0]
    assert score_main([str(wdbc_csv), str(tmp_path / "out.csv"), "--model", str(mixed)]) == 2
    assert capsys.readouterr().err.strip() == lines[0]


@pytest.mark.slow
def test_binds_127_0_0_1_by_default_and_names_the_model_in_urls(export_dir, spawn) -> None:
    psutil = pytest.importorskip("psutil")
    server = Server(spawn, "--model", str(export_dir), "--name", "wdbc")
    try:
        listening = [c.laddr for c in psutil.Process(server.proc.pid).net_connections("tcp")
                     if c.status == psutil.CONN_LISTEN]
        assert [a.ip for a in listening] == ["127.0.0.1"] and listening[0].port == server.port
        # --name is the model's name in URLs.
        assert server.triton().is_model_ready("wdbc") and not server.triton().is_model_ready("model")
        assert server.request("GET", "/v2/models/wdbc/versions/1")[0] == 200
        assert server.request("GET", "/v2/models/wdbc/versions/2")[0] == 404
    finally:
        assert server.stop(signal.SIGINT) == 0  # Ctrl-C drains the same way


@pytest.mark.slow
def test_api_key_is_required_except_for_health_checks(export_dir, spawn, tmp_path, table, features) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("s3cret-key\n")
    server = Server(spawn, "--model", str(export_dir), "--api-key-file", str(key_file))
    try:
        good = split_payload(table, features, [0])
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-key"}):
            status, answer = server.post_json("/invocations", good, **headers)
            assert status == 401 and "API key" in answer["message"]
        status, headers, data = server.request("GET", "/v2/models/model")
        assert status == 401 and headers["www-authenticate"] == "Bearer" and "API key" in json.loads(data)["error"]
        assert server.request("GET", "/metrics")[0] == 401
        for path in ("/v2/health/live", "/v2/health/ready", "/ping", "/health"):
            assert server.request("GET", path)[0] == 200, path
        assert server.post_json("/invocations", good, Authorization="Bearer s3cret-key")[0] == 200
        client = server.triton()
        assert client.get_model_metadata("model", headers={"Authorization": "Bearer s3cret-key"})["name"] == "model"
        with pytest.raises(Exception, match="API key"):
            client.get_model_metadata("model")
    finally:
        assert server.stop() == 0
