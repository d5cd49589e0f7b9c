"""Tests for contract.temporaries: temporary names, and removing them (stale ones only, retried)."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract import temporaries


@pytest.mark.parametrize("kind", ["file", "directory"])
def test_a_removal_that_fails_while_a_late_writer_still_creates_files_is_retried(tmp_path: Path, monkeypatch,
                                                                                 kind: str) -> None:
    """polars' sink may still create its file as we remove the temporary (ENOTEMPTY): the next try wins."""
    import errno
    import shutil

    target = tmp_path / "out.csv.tmp"
    if kind == "directory":
        target.mkdir()
        (target / "part").write_text("x")
    else:
        target.write_text("x")
    failures = iter([OSError(errno.ENOTEMPTY, "Directory not empty"), OSError(errno.EBUSY, "busy")])

    def flaky(real):
        def remove(*args, **kwargs):
            exc = next(failures, None)
            if exc is not None:
                raise exc
            return real(*args, **kwargs)
        return remove

    monkeypatch.setattr(temporaries.shutil, "rmtree", flaky(shutil.rmtree))
    monkeypatch.setattr(temporaries.Path, "unlink", flaky(Path.unlink))
    temporaries.remove(target)
    assert not target.exists() and next(failures, None) is None


@pytest.mark.parametrize("by_name", [False, True])
def test_a_legal_long_output_name_gets_a_temporary_that_fits(tmp_path: Path, by_name: bool) -> None:
    """The issue's case: a 244-character output name failed, because its temporary's name was over 255 bytes."""
    from scoring.io.output import AtomicOutput

    target = tmp_path / f"{'x' * 240}.csv"
    with AtomicOutput(target, by_name=by_name) as out:
        assert len(out.path.name.encode()) <= 255 and len(out.path.parent.name.encode()) <= 255
        (out.path.write_bytes(b"a\n") if by_name else out.handle.write(b"a\n"))
        out.commit()
    assert target.read_bytes() == b"a\n" and sorted(tmp_path.iterdir()) == [target]


def test_the_temporaries_of_a_long_name_are_still_told_apart_and_swept(tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    long_a, long_b = tmp_path / f"{'y' * 200}-a.csv", tmp_path / f"{'y' * 200}-b.csv"
    assert temporaries.stem(long_a.name) != temporaries.stem(long_b.name)
    left = tmp_path / f".{temporaries.stem(long_a.name)}.{temporaries.HOST}.{proc.pid}.ab12cd_3.tmp"
    other = tmp_path / f".{temporaries.stem(long_b.name)}.{temporaries.HOST}.{proc.pid}.ab12cd_3.tmp"
    left.write_text("")
    other.write_text("")
    assert temporaries.remove_stale(long_a) == [left]
    assert sorted(tmp_path.iterdir()) == [other]
    other.unlink()
