"""Output files: atomic replacement (temporary file + rename), scored rows and rejects as CSV."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import polars as pl

from scoring.errors import ScoringError
from scoring.layout import Layout
from scoring.parsing import Reject
from scoring.sources import OPENERS


class AtomicOutput(contextlib.AbstractContextManager):
    """Write to a hidden temporary file beside ``path`` and rename it into place on ``commit()`` only.

    On any error, Ctrl-C or SIGTERM the temporary file is removed, so ``path`` is either absent or
    keeps its previous content. ``-`` writes to stdout, which cannot be atomic. ``.gz``/``.bz2`` compress.
    """

    def __init__(self, path: str | Path) -> None:
        self.name = str(path)
        self._tmp: Path | None = None
        self._committed = False
        if self.name == "-":
            self.handle: IO[bytes] = sys.stdout.buffer
            self._raw = None
            return
        target = Path(path)
        if target.is_dir():
            raise ScoringError(f"Output path {target} is a directory; expected a file path or '-' for stdout.")
        if not target.parent.is_dir():
            raise ScoringError(f"Output directory {target.parent} does not exist; create it or choose another path.")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        except OSError as exc:
            raise ScoringError(f"Cannot write to {target.parent}: {exc.strerror}. Choose another output path.") from None
        self._tmp, self.target = Path(tmp), target
        self._raw = os.fdopen(fd, "wb")
        opener = OPENERS.get(target.suffix.lower())
        self.handle = opener(self._raw, "wb") if opener else self._raw

    def release(self) -> Path:
        """Close our handle and return the temporary path, for a writer that opens files by name."""
        if self._tmp is None:
            raise ScoringError("Cannot hand stdout to a writer that needs a file path.")
        self.handle.close()
        self._raw.close()
        return self._tmp

    def commit(self) -> None:
        if self._raw is None:
            self.handle.flush()
            return
        if self.handle is not self._raw:
            self.handle.close()
        self._raw.close()
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self._tmp, 0o666 & ~umask)  # mkstemp's 0600 is for the temporary file only
        os.replace(self._tmp, self.target)
        self._committed = True

    def __exit__(self, *exc: object) -> None:
        if self._raw is not None and not self._committed:
            with contextlib.suppress(OSError):
                self.handle.close()
                self._raw.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)


@dataclass(frozen=True)
class Outputs:
    """The columns after the kept ones: probability, label (0/1) and, if asked for, the class value (M/B)."""

    class_column: str | None = None
    classes: tuple[str, str] = ("0", "1")

    def schema(self, keep_names: list[str]) -> dict[str, pl.DataType]:
        extra = {self.class_column: pl.String} if self.class_column else {}
        return {**{name: pl.String for name in keep_names}, "probability": pl.Float32, "label": pl.Int64, **extra}

    def frame(self, kept: pl.DataFrame, probability: np.ndarray, label: np.ndarray) -> pl.DataFrame:
        """Kept columns, then the scores; built from Series so that a frame with no kept column has the rows too."""
        columns = [*kept.get_columns(), pl.Series("probability", probability, dtype=pl.Float32),
                   pl.Series("label", label, dtype=pl.Int64)]
        if self.class_column:
            columns.append(pl.Series(self.class_column, np.asarray(self.classes, dtype=object)[label], dtype=pl.String))
        return pl.DataFrame(columns)


def write_scored(handle: IO[bytes] | str, outputs: Outputs, kept: pl.DataFrame, probability: np.ndarray,
                 label: np.ndarray, header: bool) -> None:
    """Append kept columns, probability (shortest float32 round-trip text), label (and class) as CSV."""
    outputs.frame(kept, probability, label).write_csv(handle, include_header=header)


def empty_output(layout: Layout) -> pl.DataFrame:
    return pl.DataFrame(schema={n: pl.String for n in layout.keep_names})


REJECT_COLUMNS = ("line", "column", "reason", "record")


def write_rejects(handle: IO[bytes], rejects: list[Reject], header: bool) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    if header:
        writer.writerow(REJECT_COLUMNS)
    for r in rejects:
        writer.writerow([r.line, r.column or "", r.reason, r.record])
    handle.write(text.getvalue().encode())
