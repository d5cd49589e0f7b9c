"""The CLI ``python -m scoring.serve``: load and verify the model as the batch scorer does, then serve it."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from typing import TYPE_CHECKING

from contract.cli import add_standard_options, honour_verbose
from contract.errors import ToolkitError
from scoring.serve.options import ServeOptions, add_serve_arguments, read_api_key

if TYPE_CHECKING:
    from scoring.runtimes import Runtime


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scoring.serve",
        description="Serve the exported model over HTTP: the Open Inference Protocol v2 (KServe, Triton, "
                    "tritonclient) and MLflow's /invocations, with dynamic batching.",
    )
    add_serve_arguments(parser)
    add_standard_options(parser, tensorflow=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    honour_verbose(args)
    import numpy as np

    from scoring.batch import load_for_cli
    from scoring.options import ScoreOptions
    from scoring.serve.server import bind

    try:
        options = ServeOptions.from_args(args)
        key = read_api_key(options.api_key_file)
        # The batch scorer's own loading: the same checks, the same one-line error for a mixed or tampered export.
        runtime = load_for_cli(ScoreOptions(model=options.model, runtime=options.runtime, threads=options.threads))
        runtime.predict(np.zeros((1, len(runtime.feature_names)), np.float32))  # the first call allocates
        sock = bind(options.host, options.port)
    except ToolkitError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted before the server started.", file=sys.stderr)
        return 130
    return run(options, runtime, key, sock)


def run(options: ServeOptions, runtime: Runtime, key: bytes | None, sock: socket.socket) -> int:
    """Serve until SIGTERM or Ctrl-C has drained the server."""
    from scoring.serve.app import build_app
    from scoring.serve.server import serve
    from scoring.serve.service import Service

    if options.verbose:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    service = Service(runtime, options, api_key=key)
    host, port = sock.getsockname()[:2]
    url = ServeOptions(host=host, port=port).base_url
    info = runtime.info
    print(f"Serving {options.name!r} ({runtime.name}, {runtime.path}, {len(info.feature_names)} features, "
          f"threshold {info.threshold:g}) at {url}: /v2/models/{options.name}/infer and /invocations. "
          "Ctrl-C or SIGTERM drains and stops.", file=sys.stderr, flush=True)
    started = serve(build_app(service), sock, options.drain_seconds, lambda: setattr(service, "ready", False))
    if not started:
        return 1
    print("Stopped.", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    code = main()
    if "tensorflow" in sys.modules:
        # Stop now: with TensorFlow loaded the interpreter's final garbage collection takes ~3 s (as scoring.batch
        # has it); the server, its sockets and its inference thread are closed already.
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
