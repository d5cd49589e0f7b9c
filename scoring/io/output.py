"""Output files: atomic, durable replacement (temporary file, fsync, rename), scored rows and rejects as CSV."""

from __future__ import annotations

import contextlib
import csv
import errno
import glob
import io
import os
import re
import stat
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import polars as pl

from contract.metadata import Metadata
from contract.temporaries import prefix, remove_stale
from contract.text import capped
from contract.temporaries import remove as _remove
from scoring.errors import InputError, OutputError, ScoringError
from scoring.io.layout import Layout
from scoring.io.parsing import Reject
from scoring.io.sources import OPENERS
from scoring.timing import UNTIMED, Stages

#: ``os.umask`` can only be read by setting it, which races with threads creating files: read it once.
_UMASK = os.umask(0o022)
os.umask(_UMASK)
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


#: (directory, name prefix) of every temporary being created or written in this process. A signal can stop the
#: main thread between creating a temporary and recording it (inside mkstemp, or before the ExitStack holds the
#: writer); the CLI calls remove_unfinished() after Ctrl-C or SIGTERM to remove what was left that way.
_UNFINISHED: set[tuple[Path, str]] = set()


def remove_unfinished() -> None:
    """Remove this process's temporaries that no writer removed (see _UNFINISHED)."""
    for directory, start in list(_UNFINISHED):
        for path in directory.glob(f"{glob.escape(start)}*.tmp"):
            _remove(path)
        _UNFINISHED.discard((directory, start))


#: Names that mean stdout: what users type, and what a shell's ``/dev/stdout`` resolves to. Replacing such a
#: path by a rename would destroy the link and print nothing.
STDOUT_NAMES = frozenset({"-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"})


def is_stdout(path: str | Path) -> bool:
    return str(path) in STDOUT_NAMES


def streamed(path: str | Path) -> bool:
    """Whether OUT is written in place rather than replaced: stdout, or an existing character device (``/dev/null``,
    a terminal) or FIFO, which a rename would replace by a plain file (and, as root, ``/dev/null`` itself)."""
    if is_stdout(path):
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


class AtomicOutput(contextlib.AbstractContextManager):
    """Write to a hidden temporary file beside ``path`` and rename it into place on ``commit()`` only.

    On any error, Ctrl-C or SIGTERM the temporary file is removed, so ``path`` is either absent or
    keeps its previous content; a replaced file keeps its permissions (and its owner and group where this
    process may set them). ``commit()`` fsyncs the file before the rename and the directory after. A symbolic
    link is followed: the file it points to is replaced (its temporary beside it), the link is kept. Stdout
    (``-``, ``/dev/stdout``, ...) and an existing character device or FIFO are written in place, which cannot be
    atomic; a block device or a socket is refused. ``.gz``/``.bz2`` compress. ``by_name=True`` is for a
    writer that opens files itself (polars' sink): it gets ``path``, inside a private temporary directory,
    so that a writer still shutting down after an error cannot recreate a file once the directory is gone.
    """

    def __init__(self, path: str | Path, by_name: bool = False) -> None:
        self.name = str(path)
        self.existed = False
        self._tmp: Path | None = None  # the temporary file or directory, removed unless committed
        self._raw: IO[bytes] | None = None
        self._committed = False
        self._previous: os.stat_result | None = None  # the file being replaced
        if is_stdout(self.name) or streamed(self.name):
            if by_name:
                what = "stdout" if is_stdout(self.name) else self.name
                raise ScoringError(f"Cannot hand {what} to a writer that needs a file path.")
            self._open_stream()
            return
        target = Path(os.path.realpath(path))
        if target.is_dir() or self.name.endswith(os.sep):  # "newdir/" wrote a file named newdir
            what = "is a directory" if target.is_dir() else "ends in '/', which names a directory"
            raise ScoringError(f"Output path {path} {what}; expected a file path or '-' for stdout.")
        if os.path.exists(target) and not target.is_file():
            raise ScoringError(f"Output path {path} is a block device or a socket; expected a file path, a "
                               "character device, a FIFO or '-' for stdout.")
        if not target.parent.is_dir():
            raise ScoringError(f"Output directory {target.parent} does not exist; create it or choose another path.")
        self.target, self.existed = target, target.exists()
        self._previous = os.stat(target) if self.existed else None
        remove_stale(target)
        start = prefix(target.name)
        self._unfinished = (target.parent, start)
        _UNFINISHED.add(self._unfinished)  # before the file exists: see remove_unfinished
        try:
            self._create(target, start, by_name)
        except BaseException as exc:
            # A signal (SIGINT/SIGTERM raise, see scoring.signals) can land after mkstemp/mkdtemp created the
            # file and before it is ours to remove, and no __exit__ runs for a constructor that raised: remove
            # what this process created under its own prefix.
            for leftover in target.parent.glob(f"{glob.escape(start)}*.tmp"):
                _remove(leftover)
            if isinstance(exc, OSError):
                raise self.error(exc) from None
            raise

    def _open_stream(self) -> None:
        """Stdout, or a device or FIFO opened for writing (a FIFO waits for its reader, as a shell's ``>`` does)."""
        if is_stdout(self.name):
            self.handle: IO[bytes] = sys.stdout.buffer
            return
        try:
            self._raw = open(self.name, "wb")
        except OSError as exc:
            raise self.error(exc) from None
        opener = OPENERS.get(Path(self.name).suffix.lower())
        self.handle = opener(self._raw, "wb") if opener else self._raw

    def _create(self, target: Path, start: str, by_name: bool) -> None:
        if by_name:
            self._tmp = Path(tempfile.mkdtemp(prefix=start, suffix=".tmp", dir=target.parent))
            self.path = self._tmp / target.name
            return
        fd, tmp = tempfile.mkstemp(prefix=start, suffix=".tmp", dir=target.parent)
        self._tmp = self.path = Path(tmp)
        self._raw = os.fdopen(fd, "wb")
        opener = OPENERS.get(target.suffix.lower())
        self.handle = opener(self._raw, "wb") if opener else self._raw

    def error(self, exc: OSError) -> OutputError:
        """One line for a failed write: what failed, how to fix it, and what became of a previous file."""
        code = os_errno(exc)
        reason = exc.strerror or re.sub(r" \(os error \d+\).*", "", str(exc))
        where = "stdout" if is_stdout(self.name) else self.name
        fix = "Free some space or choose another output path" if code in _NO_SPACE else "Choose another output path"
        state = f"; the previous {self.target.name} is unchanged" if self.existed else ""
        return OutputError(f"Cannot write {where}: {reason}. {fix}{state}.")

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Turn an operating-system error while writing (disk full, read-only, ...) into an OutputError."""
        try:
            yield
        except OSError as exc:
            raise self.error(exc) from None

    def commit(self, stages: Stages = UNTIMED) -> None:
        """Flush and fsync the temporary file, rename it into place, fsync the directory."""
        with self.writing():
            if self._tmp is None:  # written in place
                self._close_stream()
                self._committed = True
                return
            with stages("sync"):
                self._sync_file()
            self._keep_permissions()
            os.replace(self.path, self.target)
            self._committed = True
        with stages("sync"):
            _sync_directory(self.target.parent)
        if self._tmp != self.path:
            _remove(self._tmp)  # the private directory, empty now
        _UNFINISHED.discard(self._unfinished)

    def _close_stream(self) -> None:
        self.handle.flush()
        if self._raw is not None:
            if self.handle is not self._raw:
                self.handle.close()  # the gzip/bz2 trailer
            self._raw.close()

    def _keep_permissions(self) -> None:
        """The replaced file's mode, owner and group (where allowed: chown needs privileges), else a new file's."""
        previous = self._previous
        if previous is None:
            os.chmod(self.path, 0o666 & ~_UMASK)  # mkstemp's 0600 is for the temporary file only
            return
        with contextlib.suppress(PermissionError):
            os.chown(self.path, previous.st_uid, previous.st_gid)
        os.chmod(self.path, stat.S_IMODE(previous.st_mode))  # after chown, which may clear set-id bits

    def _sync_file(self) -> None:
        if self._raw is None:  # written by name: fsync through a descriptor of our own
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            return
        if self.handle is not self._raw:
            self.handle.close()  # writes the gzip/bz2 trailer into the raw file
        self._raw.flush()
        os.fsync(self._raw.fileno())
        self._raw.close()

    def __exit__(self, *exc: object) -> None:
        if self._committed:
            return
        if self._tmp is None:
            if self._raw is not None:  # a device or FIFO: close it quietly, the error is already on its way
                with contextlib.suppress(OSError):
                    self._close_stream()
            return
        if self._raw is not None:
            with contextlib.suppress(OSError):  # a full disk fails the final flush too
                self.handle.close()
            with contextlib.suppress(OSError):
                self._raw.close()
        _remove(self._tmp)
        _UNFINISHED.discard(self._unfinished)


def os_errno(exc: OSError) -> int | None:
    """The error number; polars raises OSError without ``errno``, its message ends with "(os error 28)"."""
    if exc.errno is not None:
        return exc.errno
    found = re.search(r"\(os error (\d+)\)", str(exc))
    return int(found.group(1)) if found else None


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable. Best effort: some filesystems cannot fsync a directory, and the
    new file is already in place, so a failure here must not be reported as a failed write."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass(frozen=True)
class Outputs:
    """The columns after the kept ones: probability, label (0/1) and, if asked for, the class value (M/B)."""

    class_column: str | None = None
    classes: tuple[str, str] = ("0", "1")

    def schema(self, layout: Layout) -> dict[str, pl.DataType]:
        """The output's columns and types: the kept ones as the input has them, then the scores."""
        extra = {self.class_column: pl.String} if self.class_column else {}
        kept = dict(zip(layout.keep_names, layout.keep_dtypes))
        return {**kept, "probability": pl.Float32, "label": pl.Int64, **extra}

    def frame(self, kept: pl.DataFrame, probability: np.ndarray, label: np.ndarray) -> pl.DataFrame:
        """Kept columns, then the scores; built from Series so that a frame with no kept column has the rows too."""
        columns = [*kept.get_columns(), pl.Series("probability", probability, dtype=pl.Float32),
                   pl.Series("label", label, dtype=pl.Int64)]
        if self.class_column:
            columns.append(pl.Series(self.class_column, np.asarray(self.classes, dtype=object)[label], dtype=pl.String))
        return pl.DataFrame(columns)


def check_output_format(layout: Layout, output_format: str) -> None:
    """A CSV output cannot hold a nested pass-through column (a Parquet list or struct): refused before any work, with
    the column named, rather than failing in polars' writer."""
    if output_format != "csv":
        return
    nested = [(name, kind) for name, kind in zip(layout.keep_names, layout.keep_dtypes) if kind.is_nested()]
    if nested:
        name, kind = nested[0]
        raise InputError(f"column {name!r} holds nested values ({kind}), which a CSV output cannot hold ({len(nested)} "
                         f"such column{'s' * (len(nested) > 1)}: {capped([n for n, _ in nested])}); leave "
                         f"{'them' if len(nested) > 1 else 'it'} out of --keep/--keep-all, or write Parquet "
                         "(--output-format parquet)", layout.source, None, unit="row")


def write_scored(handle: IO[bytes] | str, outputs: Outputs, kept: pl.DataFrame, probability: np.ndarray,
                 label: np.ndarray, header: bool) -> None:
    """Append kept columns, probability (shortest float32 round-trip text), label (and class) as CSV."""
    outputs.frame(kept, probability, label).write_csv(handle, include_header=header)


def empty_output(layout: Layout) -> pl.DataFrame:
    return pl.DataFrame(schema=dict(zip(layout.keep_names, layout.keep_dtypes)))


REJECT_COLUMNS = ("line", "column", "reason", "record")  # "row" instead of "line" for a Parquet input


def write_rejects(handle: IO[bytes], rejects: list[Reject], header: bool, unit: str) -> None:
    """Rejected rows as CSV (``unit``: "line", or "row" for an input without lines); no column is an empty field."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    if header:
        writer.writerow((unit, *REJECT_COLUMNS[1:]))
    for r in rejects:
        writer.writerow([r.line, r.column or "", r.reason, r.record])
    handle.write(text.getvalue().encode())


def outputs_for(info: Metadata, label_values: bool) -> Outputs:
    """``--label-values`` adds ``predicted_<label column>`` with the model's class values (e.g. M/B)."""
    if not label_values:
        return Outputs()
    column = f"predicted_{info.label_column}" if info.label_column else "predicted_class"
    return Outputs(column, (_class_text(info.negative_class), _class_text(info.positive_class)))


def _class_text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
