"""The ASGI app: both protocols' routes and /metrics, the API key, metrics and access log per request, and every
refusal as a JSON error with its status (never a traceback)."""

from __future__ import annotations

import contextlib
import hmac
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contract.errors import first_line
from scoring.serve import invocations, v2
from scoring.serve.errors import RequestError, error_body
from scoring.serve.metrics import CONTENT_TYPE
from scoring.serve.service import Service

#: Open without the API key: what load balancers and orchestrators probe.
OPEN_PATHS = frozenset({"/v2/health/live", "/v2/health/ready", "/ping", "/health"})


def build_app(service: Service) -> ASGIApp:
    """The server's ASGI application for ``service``."""

    async def metrics(request: Request) -> Response:
        return Response(service.metrics.exposition(), media_type=CONTENT_TYPE)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        service.batcher.start()
        service.ready = True
        try:
            yield
        finally:
            service.ready = False
            await service.batcher.stop()

    routes = [*invocations.routes(service), *v2.routes(service), Route("/metrics", metrics, methods=["GET"])]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={
        RequestError: _refused, HTTPException: _http_error, Exception: _internal_error})
    return Gate(app, service)


def _json_error(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(error_body(request.url.path, status, message), status_code=status, headers=headers)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestError)
    return _json_error(request, exc.status, exc.message, exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"no such endpoint: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}; use {exc.headers.get('allow', 'another')}"
    else:
        message = exc.detail
    return _json_error(request, exc.status_code, message, dict(exc.headers or {}))


async def _internal_error(request: Request, exc: Exception) -> Response:
    # A bug of ours: the client gets one line; the traceback goes to the server's log (Starlette re-raises it).
    return _json_error(request, 500, f"internal error: {type(exc).__name__}: {first_line(exc)}")


class Gate:
    """ASGI middleware around the app: the API key check, and per request the metrics and (``--verbose``) one
    access-log line."""

    def __init__(self, app: Starlette, service: Service) -> None:
        self.app, self.service = app, service
        self.key = service.api_key
        self.verbose = service.options.verbose

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if self.key is not None and scope["path"] not in OPEN_PATHS and not authorized(scope, self.key):
                await unauthorized(scope)(scope, receive, sending)
            else:
                await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("route")
            self.service.metrics.observe_request(scope["method"], getattr(route, "path", "unmatched"), status, seconds)
            if self.verbose:
                access_line(scope, status, seconds)


def authorized(scope: Scope, key: bytes) -> bool:
    """``Authorization: Bearer KEY``, compared in constant time."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), key)
    return False


def unauthorized(scope: Scope) -> Response:
    status, message = 401, "missing or wrong API key; send the header 'Authorization: Bearer KEY'."
    return JSONResponse(error_body(scope["path"], status, message), status_code=status,
                        headers={"www-authenticate": "Bearer"})


def access_line(scope: Scope, status: int, seconds: float) -> None:
    client: Any = scope.get("client") or ("-", 0)
    query = f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else ""
    print(f'{client[0]}:{client[1]} "{scope["method"]} {scope["path"]}{query} HTTP/{scope["http_version"]}" '
          f"{status} {seconds * 1000:.2f} ms", file=sys.stderr, flush=True)
