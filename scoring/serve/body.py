"""Reading a request's body within its limits: 413 from Content-Length before any of it is read (or as soon as a
chunked body passes the limit), 408 for a client that stalls, gzip/deflate bodies decompressed within the limit."""

from __future__ import annotations

import asyncio
import zlib

from starlette.requests import ClientDisconnect, Request

from scoring.serve.errors import RequestError

#: The connection is closed after these answers: the rest of a refused body is never read.
CLOSE = {"connection": "close"}
#: Content-Encoding values and zlib's window bits for them (``deflate`` is zlib-wrapped, as HTTP means it).
ENCODINGS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def media_type(request: Request) -> str:
    """The Content-Type without its parameters, lower case ("" if none)."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def too_large(size: int, limit: int) -> RequestError:
    return RequestError(413, f"the request body is {size:,} bytes or more; this server takes at most {limit:,} "
                             "(--max-request-mb). Send fewer rows per request.", CLOSE)


async def read_body(request: Request, limit: int, timeout: float) -> bytes:
    """The whole body (decompressed), at most ``limit`` bytes, within ``timeout`` seconds."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise RequestError(400, f"Content-Length must be a byte count, got {declared!r}.", CLOSE)
        if int(declared) > limit:
            raise too_large(int(declared), limit)
    chunks, size = [], 0
    try:
        async with asyncio.timeout(timeout):
            more = True
            while more:  # the ASGI messages themselves: Request.stream() adds a generator per request
                message = await request.receive()
                if message["type"] == "http.disconnect":
                    raise ClientDisconnect()
                chunk, more = message.get("body", b""), message.get("more_body", False)
                size += len(chunk)
                if size > limit:
                    raise too_large(size, limit)
                chunks.append(chunk)
    except TimeoutError:
        raise RequestError(408, f"the request body did not arrive within {timeout:g} s (--request-timeout).",
                           CLOSE) from None
    except ClientDisconnect:
        raise RequestError(400, "the client closed the connection before sending the whole body.", CLOSE) from None
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return decompress(body, request.headers.get("content-encoding"), limit)


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    """``body`` as sent (no Content-Encoding, or identity) or decompressed, never to more than ``limit`` bytes."""
    name = (encoding or "identity").strip().lower()
    if name == "identity":
        return body
    if name not in ENCODINGS:
        raise RequestError(415, f"unsupported Content-Encoding {encoding!r}; expected gzip, deflate or none.")
    inflater = zlib.decompressobj(ENCODINGS[name])
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise RequestError(400, f"the {name} body cannot be decompressed: {exc}.") from None
    if len(data) > limit:
        raise too_large(len(data), limit)
    if not inflater.eof:
        raise RequestError(400, f"the {name} body is truncated.")
    return data
