"""ServeOptions: every server option, defaulted and checked once; the CLI's flags are built here."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from pathlib import Path

from scoring.serve.errors import ServeError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_NAME = "model"
#: Rows per runtime call at most: a batch of 8,192 rows takes about a millisecond on one core.
DEFAULT_MAX_BATCH_ROWS = 8_192
#: Triton's default: no waiting for more requests, a batch is what queued while the previous one ran.
DEFAULT_MAX_DELAY_MS = 0.0
DEFAULT_MAX_REQUEST_MB = 16.0
#: Seconds a client has to send a request's body; a stalled one gets 408 and its connection is closed.
DEFAULT_REQUEST_TIMEOUT = 30.0
#: Seconds that in-flight requests get to finish after SIGTERM or Ctrl-C.
DEFAULT_DRAIN_SECONDS = 10
#: What a model name in a URL may hold (KServe and Triton names are of this kind).
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True, kw_only=True)
class ServeOptions:
    """What ``python -m scoring.serve`` was asked for; checked on creation."""

    model: str | None = None
    runtime: str | None = None
    name: str = DEFAULT_NAME
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_batch_rows: int = DEFAULT_MAX_BATCH_ROWS
    max_delay_ms: float = DEFAULT_MAX_DELAY_MS
    max_request_mb: float = DEFAULT_MAX_REQUEST_MB
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    drain_seconds: int = DEFAULT_DRAIN_SECONDS
    api_key_file: str | None = None
    rename: dict[str, str] = field(default_factory=dict)
    threads: int = 1
    verbose: bool = False

    def __post_init__(self) -> None:
        if not NAME.fullmatch(self.name):
            raise ServeError(f"--name must be letters, digits, '_', '.' or '-' (it goes in URLs), got {self.name!r}.")
        if not 0 <= self.port <= 65535:
            raise ServeError(f"--port must be in [0, 65535] (0: any free port), got {self.port}.")
        for flag, value in (("--max-batch-rows", self.max_batch_rows), ("--threads", self.threads),
                            ("--drain-seconds", self.drain_seconds)):
            if value < 1:
                raise ServeError(f"{flag} must be a positive integer, got {value}.")
        for flag, value, most in (("--max-delay-ms", self.max_delay_ms, 1000.0),
                                  ("--max-request-mb", self.max_request_mb, 4096.0),
                                  ("--request-timeout", self.request_timeout, 3600.0)):
            if not 0 <= value <= most or (value == 0 and flag != "--max-delay-ms"):
                low = "[0" if flag == "--max-delay-ms" else "(0"
                raise ServeError(f"{flag} must be in {low}, {most:g}], got {value:g}.")

    @property
    def max_request_bytes(self) -> int:
        return int(self.max_request_mb * (1 << 20))

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ServeOptions:
        from scoring.io.layout import load_renames  # polars: not needed for --help

        return cls(model=args.model, runtime=args.runtime, name=args.name, host=args.host, port=args.port,
                   max_batch_rows=args.max_batch_rows, max_delay_ms=args.max_delay_ms,
                   max_request_mb=args.max_request_mb, request_timeout=args.request_timeout,
                   drain_seconds=args.drain_seconds, api_key_file=args.api_key_file,
                   rename={**load_renames(args.rename_file), **args.rename}, threads=args.threads,
                   verbose=args.verbose)


def read_api_key(path: str | None) -> bytes | None:
    """The bearer key from ``--api-key-file`` (its first line, surrounding space removed)."""
    if path is None:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ServeError(f"Cannot read --api-key-file {path}: {getattr(exc, 'strerror', None) or exc}.") from None
    key = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not key:
        raise ServeError(f"--api-key-file {path} is empty; expected the API key on its first line.")
    return key.encode("utf-8")


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The server's flags, with their names, defaults and help texts (the model's and the renames' as the batch
    scorer has them)."""
    from scoring.options import add_model_arguments, add_rename_arguments

    add_model_arguments(parser)
    parser.add_argument("--name", default=DEFAULT_NAME,
                        help="the model's name in URLs: /v2/models/NAME/... (default: %(default)s)")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help="address to listen on (default: %(default)s; 0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help="port to listen on; 0 picks a free one, printed at start (default: %(default)s)")
    parser.add_argument("--max-batch-rows", type=int, default=DEFAULT_MAX_BATCH_ROWS,
                        help="rows that concurrent requests are joined into per runtime call (default: %(default)s)")
    parser.add_argument("--max-delay-ms", type=float, default=DEFAULT_MAX_DELAY_MS,
                        help="how long a batch waits for more requests; 0 takes only what queued while the previous "
                             "batch ran (default: %(default)s)")
    parser.add_argument("--max-request-mb", type=float, default=DEFAULT_MAX_REQUEST_MB,
                        help="larger request bodies get 413 before they are read (default: %(default)s)")
    parser.add_argument("--request-timeout", type=float, default=DEFAULT_REQUEST_TIMEOUT,
                        help="seconds a client has to send its request body, else 408 (default: %(default)s)")
    parser.add_argument("--drain-seconds", type=int, default=DEFAULT_DRAIN_SECONDS,
                        help="on SIGTERM or Ctrl-C, how long in-flight requests may take to finish (default: "
                             "%(default)s)")
    parser.add_argument("--api-key-file", default=None, metavar="PATH",
                        help="require 'Authorization: Bearer KEY' with the key in this file; health checks stay open "
                             "(default: no key)")
    add_rename_arguments(parser, "request columns")
    parser.add_argument("--threads", type=int, default=1,
                        help="inference threads of the runtime (default: %(default)s)")
