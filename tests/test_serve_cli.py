"""python -m scoring.serve's options, start-up errors, body limits and API key check (in-process)."""

from __future__ import annotations

import asyncio
import gzip
import hmac
import socket
import zlib
from pathlib import Path

import pytest
from starlette.requests import Request

from scoring.serve.__main__ import main
from scoring.serve.app import authorized
from scoring.serve.body import read_body
from scoring.serve.errors import RequestError, ServeError
from scoring.serve.options import ServeOptions, read_api_key
from scoring.serve.server import bind


@pytest.mark.parametrize(("changes", "match"), [
    ({"name": "a/b"}, "--name must be"),
    ({"port": 70000}, r"--port must be in \[0, 65535\]"),
    ({"max_batch_rows": 0}, "--max-batch-rows must be a positive integer"),
    ({"max_delay_ms": -1.0}, r"--max-delay-ms must be in \[0, 1000\]"),
    ({"max_request_mb": 0.0}, r"--max-request-mb must be in \(0, 4096\]"),
    ({"request_timeout": 0.0}, r"--request-timeout must be in \(0, 3600\]"),
])
def test_options_are_checked(changes: dict, match: str) -> None:
    with pytest.raises(ServeError, match=match):
        ServeOptions(**changes)


def test_defaults_bind_loopback_on_8080() -> None:
    options = ServeOptions()
    assert (options.host, options.port, options.name, options.base_url) == (
        "127.0.0.1", 8080, "model", "http://127.0.0.1:8080")
    assert ServeOptions(host="::1", port=1).base_url == "http://[::1]:1"
    assert ServeOptions(max_request_mb=0.5).max_request_bytes == 1 << 19


def test_api_key_file(tmp_path: Path) -> None:
    assert read_api_key(None) is None
    (tmp_path / "key").write_text("  abc-123 \nignored\n")
    assert read_api_key(str(tmp_path / "key")) == b"abc-123"
    (tmp_path / "empty").write_text("\n \n")
    with pytest.raises(ServeError, match="is empty"):
        read_api_key(str(tmp_path / "empty"))
    with pytest.raises(ServeError, match="Cannot read --api-key-file .*missing"):
        read_api_key(str(tmp_path / "missing"))


def test_the_key_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared = []

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return a == b

    monkeypatch.setattr(hmac, "compare_digest", spy)
    scope = {"headers": [(b"host", b"x"), (b"authorization", b"Bearer k3y")]}
    assert authorized(scope, b"k3y") and compared == [(b"k3y", b"k3y")]
    assert not authorized({"headers": [(b"authorization", b"Bearer nope")]}, b"k3y")
    assert not authorized({"headers": [(b"authorization", b"Basic k3y")]}, b"k3y")
    assert not authorized({"headers": []}, b"k3y")


def test_a_port_in_use_is_one_line_and_exit_2(export_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--model", str(export_dir), "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"ServeError: Cannot listen on 127.0.0.1:{port}: ")


def test_bad_start_up_options_are_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--model", str(tmp_path / "nothing")]) == 2
    assert main(["--name", "a b", "--model", str(tmp_path)]) == 2
    assert main(["--host", "no.such.host.invalid", "--port", "0", "--model", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert [line.split(":")[0] for line in err] == ["ModelError", "ServeError", "ModelError"]


def test_bind_takes_port_0_and_listens_at_once() -> None:
    sock = bind("127.0.0.1", 0)
    try:
        port = sock.getsockname()[1]
        assert port > 0
        socket.create_connection(("127.0.0.1", port), timeout=5).close()  # queued before anyone accepts
    finally:
        sock.close()
    with pytest.raises(ServeError, match="Cannot listen on no.such.host.invalid:0"):
        bind("no.such.host.invalid", 0)


# ----------------------------------------------------------------------------------------- reading the body


def request(chunks: list[bytes], headers: dict[str, str], stall: bool = False) -> tuple[Request, list[int]]:
    """A Starlette request whose body arrives in ``chunks`` (then never, with ``stall``); counts receive calls."""
    calls = [0]

    async def receive() -> dict:
        calls[0] += 1
        if calls[0] <= len(chunks):
            return {"type": "http.request", "body": chunks[calls[0] - 1], "more_body": True}
        if stall:
            await asyncio.sleep(3600)
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [(k.lower().encode(), v.encode())
                                                                        for k, v in headers.items()]}
    return Request(scope, receive), calls


def read(req: Request, limit: int = 100, timeout: float = 5.0) -> bytes:
    return asyncio.run(read_body(req, limit, timeout))


def test_the_body_is_read_whole_within_the_limit() -> None:
    assert read(request([b"ab", b"cd"], {})[0]) == b"abcd"
    assert read(request([b"x" * 100], {"content-length": "100"})[0]) == b"x" * 100


def test_a_declared_length_over_the_limit_is_413_before_any_of_the_body_is_read() -> None:
    req, calls = request([b"x" * 10], {"content-length": "101"})
    with pytest.raises(RequestError, match="101 bytes or more; this server takes at most 100") as info:
        read(req)
    assert info.value.status == 413 and info.value.headers == {"connection": "close"} and calls == [0]


def test_a_chunked_body_is_413_as_soon_as_it_passes_the_limit() -> None:
    req, calls = request([b"x" * 60] * 10, {"transfer-encoding": "chunked"})
    with pytest.raises(RequestError, match="120 bytes or more") as info:
        read(req)
    assert info.value.status == 413 and calls == [2]


def test_a_stalled_body_is_408() -> None:
    req, _ = request([b"{"], {"content-length": "50"}, stall=True)
    with pytest.raises(RequestError, match=r"did not arrive within 0.2 s \(--request-timeout\)") as info:
        read(req, timeout=0.2)
    assert info.value.status == 408


def test_compressed_bodies_are_inflated_within_the_limit() -> None:
    assert read(request([gzip.compress(b"hello")], {"content-encoding": "gzip"})[0]) == b"hello"
    assert read(request([zlib.compress(b"hello")], {"content-encoding": "deflate"})[0]) == b"hello"
    bomb = gzip.compress(b"0" * 10_000)
    with pytest.raises(RequestError, match="101 bytes or more") as info:
        read(request([bomb], {"content-encoding": "gzip"})[0])
    assert info.value.status == 413 and len(bomb) < 100
    for body, encoding, status, match in ((b"nope", "gzip", 400, "cannot be decompressed"),
                                          (gzip.compress(b"hello")[:-9], "gzip", 400, "truncated"),
                                          (b"x", "br", 415, "unsupported Content-Encoding 'br'")):
        with pytest.raises(RequestError, match=match) as info:
            read(request([body], {"content-encoding": encoding})[0])
        assert info.value.status == status
    with pytest.raises(RequestError, match="Content-Length must be a byte count") as info:
        read(request([], {"content-length": "ten"})[0])
    assert info.value.status == 400


def test_a_signal_turns_readiness_off_and_asks_uvicorn_to_drain() -> None:
    import signal

    import uvicorn

    from scoring.serve.server import DrainingServer

    drained = []
    server = DrainingServer(uvicorn.Config(app=None), on_drain=lambda: drained.append(True))
    server.handle_exit(signal.SIGTERM, None)
    assert drained == [True] and server.should_exit and not server.force_exit
