"""The scorer's progress bar on stderr: bytes against the input's size (with an ETA) when it is known."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import IO, Any

#: How much of the input is read to estimate the bytes per record (the streaming engine counts rows only).
SAMPLE_BYTES = 1 << 20


def progress_bar(total_bytes: int | None, stream: IO[str] | None = None) -> Any:
    """A tqdm bar in bytes with a total and an ETA, or in rows when the size is unknown (stdin).

    ``leave=False``: closing it clears its line, so the closing line or an error message is never drawn
    next to (or under) a stale bar.
    """
    from tqdm import tqdm

    stream = stream or sys.stderr
    if total_bytes:
        return tqdm(total=total_bytes, unit="B", unit_scale=True, unit_divisor=1024, file=stream, desc="scoring",
                    leave=False)
    return tqdm(unit=" rows", unit_scale=True, file=stream, desc="scoring", leave=False)


def bytes_per_record(path: str | Path, sample: int = SAMPLE_BYTES) -> float:
    """Mean bytes per record after the header line, from the first ``sample`` bytes (1.0 if no record ends there)."""
    with open(path, "rb") as handle:
        data = handle.read(sample)
    start = data.find(b"\n") + 1
    end = data.rfind(b"\n") + 1
    records = data.count(b"\n", start, end)
    return (end - start) / records if start and records else 1.0


class RowsAsBytes:
    """Moves a bytes bar as rows are scored (from any thread): rows x the sampled bytes per record, held below
    the total until ``finish()``, when the input is known to be read."""

    def __init__(self, bar: Any, per_record: float) -> None:
        self._bar, self._per_record = bar, per_record
        self._rows = 0
        self._lock = threading.Lock()

    def add(self, rows: int) -> None:
        with self._lock:
            self._rows += rows
            estimate = min(int(self._rows * self._per_record), self._bar.total - 1)
            if estimate > self._bar.n:
                self._bar.update(estimate - self._bar.n)

    def finish(self) -> None:
        with self._lock:
            self._bar.update(self._bar.total - self._bar.n)
