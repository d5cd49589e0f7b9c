"""Per-stage wall-clock accounting (read, parse, convert, infer, write) for summaries and benchmarks."""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Iterator


class Stages:
    """Accumulates seconds per stage name; a ``with stages("parse"):`` block adds its duration."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start

    def as_dict(self) -> dict[str, float]:
        return dict(self.seconds)


#: A shared no-op timer for callers that do not care (its numbers are never read).
UNTIMED = Stages()
