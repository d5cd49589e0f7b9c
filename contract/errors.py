"""The base of every expected failure, the artifact's own error, and how a CLI shows one (a single line)."""

from __future__ import annotations


class ToolkitError(ValueError):
    """Base class: a problem with a command's input, model or options; CLIs print ``Type: message``, exit 2."""


class ModelError(ToolkitError):
    """The model is missing, unreadable, or its metadata does not match its graph."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (libraries put tracebacks and hints after it), or its type."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
