"""Atomic output directories and environment facts shared by the training and export CLIs."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import tempfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path


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
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    os.chmod(staging, 0o755)  # mkdtemp makes it 0700; a finished artifact is as readable as any directory.
    if target.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, retired / target.name)
        os.replace(staging, target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(staging, target)


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
