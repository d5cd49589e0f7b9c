"""Atomic output directories, the training manifest, and environment facts shared by the training and export CLIs."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

from contract.artifacts import sha256_file
from model.errors import DataError


@contextlib.contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``target``; on success it replaces ``target``, on error it is removed.

    A reader never sees a half-written directory, and a failed run leaves the previous one intact.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield staging
    except BaseException as exc:
        # Judged before the cleanup frees the space again.
        error = _write_error(exc, target) if isinstance(exc, OSError) else None
        shutil.rmtree(staging, ignore_errors=True)
        if error is not None:
            raise error from None
        raise
    os.chmod(staging, 0o755)  # mkdtemp makes it 0700; a finished artifact is as readable as any directory.
    if target.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, retired / target.name)
        os.replace(staging, target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(staging, target)


def _write_error(exc: OSError, target: Path) -> OSError:
    """One clear line for a failed write; a full disk is named as such even when a library's error does not say so
    (PIL, for one, reports '17070 requested and 992 written')."""
    kept = "the previous one is unchanged" if target.exists() else "nothing was written"
    if exc.errno == errno.ENOSPC or shutil.disk_usage(target.parent).free < 1 << 20:
        return OSError(errno.ENOSPC, f"No space left on device while writing {target} ({kept}). Free some space or "
                                     "choose another --out.")
    return OSError(exc.errno, f"Could not write {target}: {exc.strerror or exc} ({kept}).")


def check_writable_parent(target: str | Path) -> None:
    """Fail early, before any work, if ``target`` cannot be created."""
    target = Path(target)
    parent = target.parent
    while not parent.exists():
        parent = parent.parent
    if target.exists() and not target.is_dir():
        raise OSError(f"Output path {target} exists and is not a directory. Choose another --out.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OSError(f"Cannot write to {parent} (permission denied). Choose another --out.")


def package_versions(*names: str) -> dict[str, str]:
    """Installed versions of ``names`` plus Python's, for the reports and artifact metadata."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


MANIFEST = "manifest.json"
MANIFEST_FORMAT = "logreg-training-manifest/1"


def write_manifest(directory: Path) -> Path:
    """Record the SHA-256 of every file in ``directory``: the files of one run, which the export checks."""
    files = {str(p.relative_to(directory)): sha256_file(p)
             for p in sorted(directory.rglob("*")) if p.is_file() and p.name != MANIFEST}
    path = directory / MANIFEST
    path.write_text(json.dumps({"format": MANIFEST_FORMAT, "files": files}, indent=2) + "\n")
    return path


def verify_manifest(directory: Path, needed: tuple[str, ...]) -> None:
    """Every file the manifest lists is there, unchanged; ``needed`` (relative paths) are among them.

    A file from another run (a model.json copied beside another run's checkpoint) is refused here.
    """
    hint = f"Train again with `python -m model.train --out {directory}`; do not mix files of different runs."
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
        if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
            raise ValueError("expected a JSON object whose 'files' maps each file of the run to its SHA-256")
        listed = dict(manifest["files"])
    except FileNotFoundError:
        raise DataError(f"{directory} has no {MANIFEST} (the list of the run's files and their hashes). {hint}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"Could not read {directory / MANIFEST}: {exc}. {hint}") from None
    missing = [name for name in needed if name not in listed]
    if missing:
        raise DataError(f"{directory / MANIFEST} does not list {', '.join(missing)}. {hint}")
    for name, digest in listed.items():
        path = directory / name
        if not path.is_file():
            raise DataError(f"{path} is missing (listed in {MANIFEST}). {hint}")
        if sha256_file(path) != digest:
            raise DataError(f"{path} is not the file this run wrote (its SHA-256 differs from {MANIFEST}'s). {hint}")
