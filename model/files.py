"""Atomic output directories, the training manifest, and environment facts shared by the training and export CLIs."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import platform
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from contract.artifacts import MANIFEST, changed_files, read_manifest, unlisted_files
from contract.artifacts import write_manifest as write_contract_manifest
from contract.temporaries import prefix, remove, stale
from contract.text import capped
from model.errors import DataError


@dataclass(frozen=True)
class RunKind:
    """What ``--out`` holds: a training run or an export, told by its manifest's format. ``legacy(path)`` may
    recognize a run of this kind written before it had a manifest."""

    what: str
    manifest_format: str
    legacy: Callable[[Path], bool] = lambda path: False


TRAINING_RUN = RunKind("training run", "logreg-training-manifest/1")


def out_path(target: str | Path) -> Path:
    """``--out`` with symbolic links resolved: a link to a folder keeps pointing at it, and the folder is replaced."""
    return Path(os.path.realpath(target))


def check_out(target: str | Path, kind: RunKind, inputs: Mapping[str, str | Path | None] | None = None) -> Path:
    """Fail early, before any work, unless ``target`` can be made or replaced: it is absent, an empty folder or a
    run of ``kind`` (its manifest lists every file in it), it holds none of ``inputs`` (flag -> path) and none of
    them holds it, and its parent is writable. Returns the resolved path."""
    target = out_path(target)
    recover(target)
    check_apart(target, inputs or {})
    check_replaceable(target, kind)
    parent = target.parent
    while not parent.exists():
        parent = parent.parent
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"Cannot write to {parent} (permission denied). Choose another --out.")
    return target


def check_replaceable(target: Path, kind: RunKind) -> None:
    """Refuse, in one line naming it, to replace anything but an empty folder or an earlier run of ``kind``."""
    if not os.path.lexists(target):
        return
    if not target.is_dir():
        raise FileExistsError(f"Output path {target} exists and is not a directory. Choose another --out.")
    if next(os.scandir(target), None) is None:
        return
    hint = "nothing was replaced. Choose a new or empty folder for --out, or remove this one yourself"
    try:
        fmt, listed = read_manifest(target)
    except (OSError, ValueError):
        fmt, listed = None, {}
    if fmt != kind.manifest_format:
        if kind.legacy(target):
            return
        raise FileExistsError(f"--out {target} is not empty and is not an earlier {kind.what} (it has no {MANIFEST} "
                              f"of one): {hint}.")
    extra = unlisted_files(target, listed)
    if extra:
        raise FileExistsError(f"--out {target} is an earlier {kind.what}, but it also holds files the run did not "
                              f"write ({capped(extra)}): {hint}.")


def check_apart(target: Path, inputs: Mapping[str, str | Path | None]) -> None:
    """``--out`` must neither hold an input nor lie inside one: replacing it would delete what is being read.
    Folders are compared by device and inode, so a second path to the same folder (a bind mount) is caught."""
    for flag, path in inputs.items():
        if path is None or "://" in str(path) or not os.path.exists(path):
            continue
        if _within(target, Path(path)):
            where = "is" if _within(Path(path), target) else "lies inside"
            raise FileExistsError(f"--out {target} {where} {flag} {path}; writing there would change it. "
                                  "Choose another --out.")
        if _within(Path(path), target):
            raise FileExistsError(f"--out {target} holds {flag} {path}; writing there would delete it. "
                                  "Choose another --out.")


def _within(inner: Path, outer: Path) -> bool:
    """Whether ``inner`` is ``outer`` or lies inside it (by device and inode; ``inner`` need not exist)."""
    try:
        st = os.stat(outer)
    except OSError:
        return False
    for folder in (out_path(inner), *out_path(inner).parents):
        try:
            here = os.stat(folder)
        except OSError:
            continue
        if (here.st_dev, here.st_ino) == (st.st_dev, st.st_ino):
            return True
    return False


@contextlib.contextmanager
def atomic_directory(target: str | Path, kind: RunKind, inputs: Mapping[str, str | Path | None] | None = None
                     ) -> Iterator[Path]:
    """Yield a temporary sibling of ``target``; on success it replaces ``target``, on error it is removed.

    ``target`` must be absent, an empty folder or an earlier run of ``kind`` (checked again just before the swap).
    A reader never sees a half-written directory, and a failed run leaves the previous one intact. The swap is
    one ``renameat2(RENAME_EXCHANGE)``, so a SIGKILL leaves either run whole at ``target``; what a killed run
    leaves beside it (``.NAME.HOST.PID.RANDOM.tmp``) the next run removes, or puts back (see ``recover``).
    """
    target = check_out(target, kind, inputs)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=prefix(target.name), suffix=".tmp", dir=target.parent))
    try:
        yield staging
    except BaseException as exc:
        # Judged before the cleanup frees the space again.
        error = _write_error(exc, target) if isinstance(exc, OSError) else None
        remove(staging)
        if error is not None:
            raise error from None
        raise
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode) if target.is_dir() else 0o755
        os.chmod(staging, mode)  # mkdtemp makes it 0700; a finished run is as readable as the folder it replaces
        check_replaceable(target, kind)  # again: the folder may have changed while the run worked
        _swap(staging, target)
    except BaseException:
        remove(staging)
        raise


#: renameat2's flag that swaps two paths in one step (Linux 3.15+, on ext4, xfs, btrfs, tmpfs, overlayfs ...).
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
#: A retired run's name under the fallback swap: ``recover`` puts it back if the run was killed mid-swap.
_RETIRED = "old-"  # mkdtemp never writes a "-": no staging folder has this name


def _swap(staging: Path, target: Path) -> None:
    """Put ``staging`` at ``target``, retiring what was there."""
    if not os.path.lexists(target):
        os.rename(staging, target)
        return
    if exchange(staging, target):
        remove(staging)  # the previous run, now under the temporary name
        return
    # No atomic exchange here: retire the old run under a name ``recover`` knows, then rename the new one in.
    retired = staging.with_name(f"{prefix(target.name)}{_RETIRED}{staging.name.rsplit('.', 2)[-2]}.tmp")
    os.rename(target, retired)
    os.rename(staging, target)
    remove(retired)


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths atomically; False where the system or the filesystem cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # not Linux, or a C library without it (glibc < 2.28)
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def recover(target: Path) -> None:
    """Tidy what killed runs left beside ``target``: a run retired by the fallback swap goes back to ``target``
    if that is missing (the kill came between its two renames), and every other leftover is removed."""
    for leftover in sorted(stale(target), key=lambda p: _RETIRED not in p.name):  # retired runs first
        if leftover.name.rsplit(".", 2)[-2].startswith(_RETIRED) and not os.path.lexists(target):
            os.rename(leftover, target)
        else:
            remove(leftover)


def _write_error(exc: OSError, target: Path) -> OSError:
    """One clear line for a failed write; a full disk is named as such even when a library's error does not say so
    (PIL, for one, reports '17070 requested and 992 written')."""
    kept = "the previous one is unchanged" if target.exists() else "nothing was written"
    if exc.errno == errno.ENOSPC or shutil.disk_usage(target.parent).free < 1 << 20:
        return OSError(errno.ENOSPC, f"No space left on device while writing {target} ({kept}). Free some space or "
                                     "choose another --out.")
    return OSError(exc.errno, f"Could not write {target}: {exc.strerror or exc} ({kept}).")


def package_versions(*names: str) -> dict[str, str]:
    """Installed versions of ``names`` plus Python's, for the reports and artifact metadata."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def write_manifest(directory: Path) -> Path:
    """Record the SHA-256 of every file in ``directory``: the files of one run, which the export checks."""
    return write_contract_manifest(directory, TRAINING_RUN.manifest_format)


def verify_manifest(directory: Path, needed: tuple[str, ...]) -> None:
    """Every file the manifest lists is there, unchanged; ``needed`` (relative paths) are among them.

    A file from another run (a model.json copied beside another run's checkpoint) is refused here.
    """
    hint = f"Train again with `python -m model.train --out {directory}`; do not mix files of different runs."
    try:
        _, listed = read_manifest(directory)
    except FileNotFoundError:
        raise DataError(f"{directory} has no {MANIFEST} (the list of the run's files and their hashes). {hint}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"Could not read {directory / MANIFEST}: {exc}. {hint}") from None
    missing = [name for name in needed if name not in listed]
    if missing:
        raise DataError(f"{directory / MANIFEST} does not list {', '.join(missing)}. {hint}")
    for name in changed_files(directory, listed)[:1]:
        path = directory / name
        if not path.is_file():
            raise DataError(f"{path} is missing (listed in {MANIFEST}). {hint}")
        raise DataError(f"{path} is not the file this run wrote (its SHA-256 differs from {MANIFEST}'s). {hint}")
