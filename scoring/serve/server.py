"""Listening and stopping: the socket bound before serving, uvicorn run on it, SIGTERM and Ctrl-C as a drain."""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from types import FrameType

import uvicorn

from scoring.serve.errors import ServeError

SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: Connections the kernel queues while the server is busy (uvicorn's default).
BACKLOG = 2048
#: Seconds an idle keep-alive connection stays open (uvicorn's default).
KEEP_ALIVE = 5


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one); connections queue from now on."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServeError(f"Cannot listen on {host}:{port}: {exc.strerror}.") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise ServeError(f"Cannot listen on {host}:{port}: {exc.strerror}. Pass another --port (0: any free one).") \
            from None
    return sock


class DrainingServer(uvicorn.Server):
    """uvicorn's server, which on SIGTERM or Ctrl-C stops accepting, lets in-flight requests finish and returns.
    Unlike uvicorn's own, it does not raise the signal again afterwards: a drained stop is a clean exit (0)."""

    def __init__(self, config: uvicorn.Config, on_drain: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_drain = on_drain

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._on_drain()  # not ready from now on: a load balancer's probe sees it at once
        super().handle_exit(sig, frame)


def serve(app: object, sock: socket.socket, drain_seconds: int, on_drain: Callable[[], None]) -> bool:
    """Serve ``app`` on ``sock`` until a signal drains it; whether it started."""
    config = uvicorn.Config(app, lifespan="on", log_config=None, access_log=False, timeout_keep_alive=KEEP_ALIVE,
                            timeout_graceful_shutdown=drain_seconds, server_header=False)
    server = DrainingServer(config, on_drain)
    server.run(sockets=[sock])
    return server.started
