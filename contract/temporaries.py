"""Temporary names that tell a killed writer's leftovers from a live one's: ``.NAME.HOST.PID.RANDOM.tmp``."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
from pathlib import Path

#: A later run can tell a killed writer's leftovers (removed) from a live writer's (left alone), and never
#: touches another host's.
HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:64] or "localhost"
#: The longest NAME kept whole in a temporary's name: the rest of it (host, pid, random part) must fit in a
#: file name of 255 bytes beside it, or a legal output name would fail only for want of a temporary.
_LONGEST_NAME = 120


def stem(name: str) -> str:
    """``name`` as it appears in its temporaries' names: whole if short, else a prefix and a hash of it."""
    if len(name.encode()) <= _LONGEST_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f"{name.encode()[:80].decode(errors='ignore')}~{digest}"


def prefix(name: str) -> str:
    """The start of this process's temporary names for ``name`` (``tempfile.mkstemp`` adds the random part)."""
    return f".{stem(name)}.{HOST}.{os.getpid()}."


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (our own pid counts as alive: never ours to judge)."""
    if pid == os.getpid() or os.name != "posix":  # elsewhere os.kill(pid, 0) is not a harmless probe
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, owned by someone else
        return True
    return True


def remove(path: Path, attempts: int = 10) -> None:
    """Remove a temporary file or directory (not following a symbolic link). Retried: after an error polars'
    sink may still create its file in the directory while we remove it (rmdir then fails with ENOTEMPTY);
    once the directory is gone, such a late create fails instead of leaving a file behind."""
    for _ in range(attempts):
        if not os.path.lexists(path):
            return
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError:
            continue


def stale(target: Path) -> list[Path]:
    """Temporaries of ``target`` beside it, left by writers on this host that are gone (killed runs)."""
    pattern = re.compile(rf"\.{re.escape(stem(target.name))}\.{re.escape(HOST)}\.(\d+)\.[a-z0-9_-]+\.tmp")
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return []
    return [Path(e.path) for e in entries if (m := pattern.fullmatch(e.name)) and not alive(int(m.group(1)))]


def remove_stale(target: Path) -> list[Path]:
    """Remove what ``stale`` finds; returns it."""
    found = stale(target)
    for path in found:
        remove(path)
    return found
