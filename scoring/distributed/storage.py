"""Local paths and fsspec URLs: one filesystem per URL, store options, and a clear error for a missing extra."""

from __future__ import annotations

import json
import os
from typing import Any

from scoring.errors import ScoringError

#: Protocols whose package ships in one of our extras; others name their own package.
EXTRAS = {"s3": "s3", "s3a": "s3"}
#: Object stores where one PUT (or a completed multipart upload) makes an object appear whole, or not at all.
OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "abfs", "abfss", "az", "adl", "oss"})


def storage_errors() -> tuple[type[BaseException], ...]:
    """What a store raises for an expected failure (missing object, denied, no credentials, unreachable)."""
    errors: tuple[type[BaseException], ...] = (OSError,)
    try:  # botocore (under s3fs) raises its own errors for missing credentials and bad endpoints
        from botocore.exceptions import BotoCoreError
    except ImportError:
        return errors
    return (*errors, BotoCoreError)


def parse_storage_options(pairs: list[str] | None) -> dict[str, Any]:
    """``--storage-option key=value`` pairs as fsspec keyword arguments.

    A value that parses as JSON is taken as JSON (``anon=true``, ``default_block_size=5242880``), anything
    else as a string; a dotted key nests (``client_kwargs.region_name=eu-west-1``).
    """
    options: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ScoringError(f"--storage-option expects KEY=VALUE, got {pair!r}.")
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = text
        *parents, leaf = key.strip().split(".")
        target = options
        for parent in parents:
            target = target.setdefault(parent, {})
            if not isinstance(target, dict):
                raise ScoringError(f"--storage-option {pair!r} nests under {parent!r}, which already has a value.")
        target[leaf] = value
    return options


def protocol_of(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else "file"


def filesystem(url: str, options: dict[str, Any] | None = None) -> tuple[Any, str]:
    """The fsspec filesystem for ``url`` and the path within it; a missing package names what to install."""
    import fsspec

    protocol = protocol_of(url)
    kwargs = {} if protocol == "file" else options or {}  # store options are for the store, not local files
    try:
        return fsspec.core.url_to_fs(url, **kwargs)
    except ImportError:
        raise ScoringError(_missing_package(protocol, url)) from None
    except ValueError as exc:
        if "protocol" not in str(exc).lower():
            raise
        known = ", ".join(f"{p}://" for p in ("s3", "gcs", "abfs", "file"))
        raise ScoringError(f"Unknown protocol {protocol}:// in {url}; expected a local path or an fsspec URL "
                           f"({known}, ...).") from None


def _missing_package(protocol: str, url: str) -> str:
    from fsspec.registry import known_implementations

    package = known_implementations.get(protocol, {}).get("class", protocol).split(".")[0]
    if protocol in EXTRAS:
        how = f"pip install 'wdbc-graph-export[{EXTRAS[protocol]}]' (from a checkout: pip install -e '.[{EXTRAS[protocol]}]')"
    else:
        how = f"pip install {package}"
    return f"{url} needs the {package} package for {protocol}:// URLs, which is not installed: {how}."


def is_local(fs: Any) -> bool:
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocols or "local" in protocols


def single_put(fs: Any) -> bool:
    """True where writing an object is atomic by itself (no temporary name needed, and no rename exists)."""
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return bool(OBJECT_STORES.intersection(protocols))


def canonical(fs: Any, path: str) -> str:
    """A local path as an absolute path (so workers elsewhere resolve it alike), anything else as a URL."""
    if is_local(fs):
        return os.path.abspath(path)
    return fs.unstrip_protocol(path)
