"""What tests check of a message: the facts a user acts on (file, line, column, value, the fix), not its wording."""

from __future__ import annotations


def says(message: str, *facts: str) -> None:
    """``message`` names each of ``facts`` in this order: e.g. the file, ``"line 5"``, ``"column 4 ('x')"``, the
    value found, the flag that fixes it."""
    at = 0
    for fact in facts:
        found = message.find(fact, at)
        assert found >= 0, f"{fact!r} is not in {message[at:]!r} (the part of {message!r} after the facts before it)"
        at = found + len(fact)


def error_line(stderr: str | bytes, kind: str, *facts: str) -> str:
    """The one line an expected failure prints (``kind: message``, no traceback, nothing else), naming ``facts`` in
    order; returns it."""
    text = stderr.decode() if isinstance(stderr, bytes) else stderr
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"{kind}: "), text[-3000:]
    says(lines[0], *facts)
    return lines[0]
