"""Tests for scoring.io.output: atomic, durable replacement of the output file, and its temporary files."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from contract.temporaries import HOST
from scoring.errors import OutputError, ScoringError
from scoring.io.output import _UNFINISHED, AtomicOutput, remove_unfinished, write_rejects
from scoring.io.parsing import Reject
from tests.expect import says


def test_atomic_output_keeps_previous_content_on_error(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("previous\n")
    with pytest.raises(RuntimeError), AtomicOutput(target) as out:
        out.handle.write(b"partial")
        raise RuntimeError("boom")
    assert target.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
    with AtomicOutput(target) as out:
        out.handle.write(b"new\n")
        out.commit()
    assert target.read_text() == "new\n"


def test_commit_fsyncs_the_file_before_the_rename_and_the_directory_after(tmp_path: Path, monkeypatch) -> None:
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src: str | Path, dst: str | Path) -> None:
        events.append(("replace", str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "out.csv.gz"
    for by_name in (False, True):
        events.clear()
        with AtomicOutput(target, by_name=by_name) as out:
            if by_name:
                out.path.write_bytes(b"written by name\n")
            else:
                out.handle.write(b"compressed\n")
            temporary = str(out.path)
            out.commit()
        assert events == [("fsync", temporary), ("replace", str(target)), ("fsync", str(tmp_path))]


def test_a_writer_by_name_cannot_leave_a_file_after_an_error(tmp_path: Path) -> None:
    """polars' sink can create its file after it has reported an error; that create must fail."""
    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError), AtomicOutput(target, by_name=True) as out:
        out.path.write_bytes(b"partial")
        raise RuntimeError("declined")
    with pytest.raises(FileNotFoundError):
        out.path.write_bytes(b"a late create")
    assert list(tmp_path.iterdir()) == []


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_temporary_file_of_another_users_live_process_is_kept(tmp_path: Path, monkeypatch) -> None:
    """os.kill(pid, 0) on someone else's process fails with EPERM: the process exists, its file stays."""
    other = _dead_pid()
    real_kill = os.kill

    def kill(pid: int, sig: int) -> None:
        if pid == other:
            raise PermissionError(1, "Operation not permitted")
        real_kill(pid, sig)

    monkeypatch.setattr(os, "kill", kill)
    theirs = tmp_path / f".out.csv.{HOST}.{other}.ab12cd_3.tmp"
    theirs.write_text("partial\n")
    with AtomicOutput(tmp_path / "out.csv") as out:
        out.commit()
    assert theirs.exists()
    theirs.unlink()


def test_stale_temporary_files_of_dead_writers_are_removed(tmp_path: Path) -> None:
    dead = _dead_pid()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale_file = tmp_path / f".out.csv.{HOST}.{dead}.ab12cd_3.tmp"
        stale_dir = tmp_path / f".out.csv.{HOST}.{dead}.zz99yy00.tmp"
        keep = [tmp_path / f".out.csv.{HOST}.{live.pid}.ab12cd_3.tmp",  # its writer is running
                tmp_path / f".out.csv.{HOST}.{os.getpid()}.ab12cd_3.tmp",  # this process's other writer
                tmp_path / f".other.csv.{HOST}.{dead}.ab12cd_3.tmp",  # another output's
                tmp_path / f".out.csv.elsewhere.{dead}.ab12cd_3.tmp",  # another host's: cannot tell
                tmp_path / ".out.csv.ab12cd_3.tmp"]  # no writer in the name: cannot tell
        for path in [stale_file, *keep]:
            path.write_text("partial\n")
        stale_dir.mkdir()
        (stale_dir / "out.csv").write_text("partial\n")
        with AtomicOutput(tmp_path / "out.csv") as out:
            out.handle.write(b"new\n")
            out.commit()
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out.csv", *(p.name for p in keep)])
        assert live.poll() is None  # probed with signal 0, which delivers nothing
    finally:
        live.kill()
        live.wait()
        for path in tmp_path.glob(".*.tmp"):
            path.unlink()


@pytest.mark.parametrize("previous", [True, False])
def test_full_disk_is_one_error_and_keeps_the_previous_file(small_filesystem: Path, previous: bool) -> None:
    target = small_filesystem / "out.csv"
    if previous:
        target.write_text("previous\n")
    message = r"Cannot write .*out.csv: No space left on device\. Free some space or choose another output path"
    message += r"; the previous out.csv is unchanged\.$" if previous else r"\.$"
    with pytest.raises(OutputError, match=message), AtomicOutput(target) as out:
        with out.writing():
            for _ in range(64):
                out.handle.write(b"x" * 4096)
            out.commit()
    assert sorted(p.name for p in small_filesystem.iterdir()) == (["out.csv"] if previous else [])
    if previous:
        assert target.read_text() == "previous\n"


@pytest.mark.parametrize("by_name", [False, True])
def test_a_signal_landing_while_the_temporary_file_is_created_leaves_nothing(tmp_path: Path, monkeypatch,
                                                                              by_name: bool) -> None:
    """Under load SIGTERM can arrive right after mkstemp created the file, before AtomicOutput holds it (seen
    once in a full-suite run: '.out.csv.HOST.PID.RANDOM.tmp' left behind after SIGTERM)."""
    import tempfile

    from scoring.signals import Interrupted

    def created_then_interrupted(real):
        def create(*args, **kwargs):
            real(*args, **kwargs)
            raise Interrupted(15)
        return create

    monkeypatch.setattr(tempfile, "mkstemp", created_then_interrupted(tempfile.mkstemp))
    monkeypatch.setattr(tempfile, "mkdtemp", created_then_interrupted(tempfile.mkdtemp))
    (tmp_path / "out.csv").write_text("previous\n")
    with pytest.raises(Interrupted):
        AtomicOutput(tmp_path / "out.csv", by_name=by_name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]
    assert (tmp_path / "out.csv").read_text() == "previous\n"


def test_remove_unfinished_removes_what_a_writer_left_and_forgets_it(tmp_path: Path) -> None:
    """What batch.main calls after Ctrl-C: a writer whose clean-up never ran (the signal came in between)."""
    (tmp_path / "out.csv").write_text("previous\n")
    (tmp_path / "other.csv.tmp").write_text("not ours\n")
    writer = AtomicOutput(tmp_path / "out.csv")
    writer.handle.write(b"partial")
    assert len(list(tmp_path.glob(".out.csv.*.tmp"))) == 1 and _UNFINISHED
    remove_unfinished()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.csv.tmp", "out.csv"]
    assert (tmp_path / "out.csv").read_text() == "previous\n"
    assert not _UNFINISHED
    writer.handle.close()


def test_rejects_are_lf_terminated_csv_with_an_empty_column_field_where_none_applies() -> None:
    rejects = [Reject(3, "radius_mean", 2, "not a number: 'abc'", '1,abc,"x, y"'),
               Reject(7, None, None, "expected 31 fields, found 2", "1,2")]
    out = io.BytesIO()
    write_rejects(out, rejects, header=True, unit="row")
    assert out.getvalue().decode() == (
        "row,column,reason,record\n"
        """3,radius_mean,not a number: 'abc',"1,abc,""x, y\"""\n"""
        '7,,"expected 31 fields, found 2","1,2"\n'
    )


@pytest.mark.parametrize("by_name", [False, True])
def test_the_output_gets_the_permissions_a_new_file_would_not_the_temporarys_0600(tmp_path: Path,
                                                                                  by_name: bool) -> None:
    from scoring.io import output

    target = tmp_path / "out.csv"
    with AtomicOutput(target, by_name=by_name) as out:
        (out.path.write_bytes(b"x\n") if by_name else out.handle.write(b"x\n"))
        out.commit()
    assert target.stat().st_mode & 0o7777 == 0o666 & ~output._UMASK  # 0644 with the usual umask 022
    assert 0o666 & ~output._UMASK != 0o600  # the test means something only with the usual umasks


def test_both_fsyncs_are_timed_as_the_sync_stage(tmp_path: Path, monkeypatch) -> None:
    """``python -m benchmarks.scoring`` reports this stage as its ``fsync s`` column."""
    import time

    from scoring.timing import Stages

    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        time.sleep(0.05)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    stages = Stages()
    with AtomicOutput(tmp_path / "out.csv") as out:
        out.handle.write(b"x\n")
        out.commit(stages)
    assert list(stages.seconds) == ["sync"] and stages.seconds["sync"] >= 0.1


def test_a_directory_that_cannot_be_fsynced_still_gets_its_file(tmp_path: Path, monkeypatch) -> None:
    """Some filesystems refuse fsync on a directory (EINVAL); the file is in place by then, so it is no error."""
    import errno
    import stat

    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "Invalid argument")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with AtomicOutput(tmp_path / "out.csv") as out:
        out.handle.write(b"x\n")
        out.commit()
    assert (tmp_path / "out.csv").read_bytes() == b"x\n" and sorted(os.listdir(tmp_path)) == ["out.csv"]


@pytest.mark.parametrize("by_name", [False, True])
@pytest.mark.parametrize("ends", ["committed", "failed"])
def test_a_writer_that_ends_forgets_its_temporary_prefix(tmp_path: Path, by_name: bool, ends: str) -> None:
    """A long-running process (a service calling score_csv) must not collect one entry per output it wrote."""
    before = set(_UNFINISHED)
    with contextlib.suppress(RuntimeError), AtomicOutput(tmp_path / "out.csv", by_name=by_name) as out:
        assert len(_UNFINISHED) == len(before) + 1
        (out.path.write_bytes(b"x\n") if by_name else out.handle.write(b"x\n"))
        if ends == "failed":
            raise RuntimeError("boom")
        out.commit()
    assert _UNFINISHED == before
    assert sorted(os.listdir(tmp_path)) == (["out.csv"] if ends == "committed" else [])


@pytest.mark.parametrize("previous", [True, False])
def test_a_full_disk_under_a_compressed_output_is_one_error_too(small_filesystem: Path, previous: bool) -> None:
    """gzip's trailer and the buffered raw file fail again as the writer is cleaned up: still one OutputError."""
    target = small_filesystem / "out.csv.gz"
    if previous:
        target.write_bytes(b"previous")
    with pytest.raises(OutputError, match=r"Cannot write .*out\.csv\.gz: No space left on device\."), \
            AtomicOutput(target) as out, out.writing():
        for _ in range(64):
            out.handle.write(os.urandom(4096))  # incompressible, so the disk fills
        out.commit()
    assert sorted(p.name for p in small_filesystem.iterdir()) == (["out.csv.gz"] if previous else [])


def test_stdout_is_written_through_and_an_error_passes_unchanged(capsysbinary) -> None:
    """``-``: nothing to rename or remove, so neither a commit nor an error touches any file."""
    with pytest.raises(RuntimeError, match="boom"), AtomicOutput("-") as out:
        out.handle.write(b"first rows\n")
        raise RuntimeError("boom")
    with AtomicOutput("-") as out:
        out.handle.write(b"all rows\n")
        out.commit()
    assert capsysbinary.readouterr().out == b"first rows\nall rows\n"


def test_a_failed_write_to_stdout_is_one_line_naming_stdout(capsysbinary) -> None:
    import errno

    with AtomicOutput("-") as out:
        error = out.error(OSError(errno.EPIPE, "Broken pipe"))
    assert isinstance(error, OutputError)
    says(str(error), "stdout", "Broken pipe")


def test_an_output_that_cannot_be_a_file_is_refused_saying_what_to_give_instead(tmp_path: Path) -> None:
    from scoring.errors import ScoringError

    with pytest.raises(ScoringError, match=rf"^Output path {tmp_path} is a directory; expected a file path or '-' "
                                           r"for stdout\.$"):
        AtomicOutput(tmp_path)
    with pytest.raises(ScoringError, match=rf"^Output directory {tmp_path / 'missing'} does not exist; create it "
                                           r"or choose another path\.$"):
        AtomicOutput(tmp_path / "missing" / "out.csv")
    with pytest.raises(ScoringError, match=r"^Cannot hand stdout to a writer that needs a file path\.$"):
        AtomicOutput("-", by_name=True)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("by_name", [False, True])
def test_a_temporary_that_cannot_be_created_is_one_output_error(tmp_path: Path, monkeypatch, by_name: bool) -> None:
    """A read-only directory (we cannot make one: tests may run as root, who may write anyway)."""
    import errno

    from scoring.io import output

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(output.tempfile, "mkdtemp" if by_name else "mkstemp", refuse)
    (tmp_path / "out.csv").write_text("previous\n")
    with pytest.raises(OutputError) as info:
        AtomicOutput(tmp_path / "out.csv", by_name=by_name)
    says(str(info.value), "out.csv", "Permission denied", "out.csv is unchanged")
    assert os.listdir(tmp_path) == ["out.csv"]


# ---------------------------------------------------------------------------------------------- what OUT already is


def device(tmp_path: Path, name: str, major: int, minor: int, kind: int = 0o020000) -> Path:
    """A copy of a device node (character by default) made with mknod in the test's folder; skips without root."""
    import stat as st

    path = tmp_path / name
    try:
        os.mknod(path, 0o666 | kind, os.makedev(major, minor))
    except PermissionError:
        pytest.skip("mknod needs root (CAP_MKNOD)")
    assert st.S_ISCHR(path.stat().st_mode) or st.S_ISBLK(path.stat().st_mode)
    return path


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_a_character_device_is_written_to_in_place_never_replaced(tmp_path: Path, suffix: str) -> None:
    """The issue's case: as root, `scoring.batch in.csv /dev/null` would have replaced the system's /dev/null."""
    import stat as st

    null = device(tmp_path, f"null{suffix}", 1, 3)
    before = null.stat()
    with AtomicOutput(null) as out:
        out.handle.write(b"scores\n")
        out.commit()
    after = null.stat()
    assert st.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
    assert os.listdir(tmp_path) == [null.name]


def test_a_full_device_is_the_usual_one_line_error(tmp_path: Path) -> None:
    full = device(tmp_path, "full", 1, 7)
    with pytest.raises(OutputError, match=r"^Cannot write .*/full: No space left on device\. Free some space or "
                                          r"choose another output path\.$"), AtomicOutput(full) as out:
        with out.writing():
            out.handle.write(b"x" * 100_000)
            out.commit()
    assert os.listdir(tmp_path) == ["full"] and full.is_char_device()


def test_a_fifo_is_written_to_in_place_and_its_reader_gets_everything(tmp_path: Path) -> None:
    """The issue's case: the FIFO was replaced by a plain file and its reader got nothing."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got = tmp_path / "got"
    reader = subprocess.Popen(["cp", str(fifo), str(got)])  # a real reader in another process
    with AtomicOutput(fifo) as out:
        out.handle.write(b"x" * 1_000_000)
        out.commit()
    assert reader.wait(timeout=30) == 0 and got.read_bytes() == b"x" * 1_000_000
    got.unlink()
    assert fifo.is_fifo() and os.listdir(tmp_path) == ["fifo"]


def test_a_block_device_or_a_socket_is_refused(tmp_path: Path) -> None:
    import socket
    import stat as st

    block = device(tmp_path, "block", 7, 250, st.S_IFBLK)
    listening = socket.socket(socket.AF_UNIX)
    listening.bind(str(tmp_path / "socket"))
    try:
        for path in (block, tmp_path / "socket"):
            with pytest.raises(ScoringError, match="is a block device or a socket; expected a file path, a character"):
                AtomicOutput(path)
    finally:
        listening.close()
    assert sorted(os.listdir(tmp_path)) == ["block", "socket"]


def test_a_symlinked_output_keeps_its_link_and_its_target_is_replaced_atomically(tmp_path: Path) -> None:
    """The issue's case: the link was cut (replaced by a file) and its target kept stale content."""
    (tmp_path / "data").mkdir()
    real = tmp_path / "data" / "scores.csv"
    real.write_text("stale\n")
    link = tmp_path / "latest.csv"
    link.symlink_to(real)
    with AtomicOutput(link) as out:
        assert out.path.parent == real.parent  # the temporary is beside the target: the rename stays in one folder
        out.handle.write(b"new\n")
        out.commit()
    assert link.is_symlink() and os.readlink(link) == str(real) and real.read_text() == "new\n"
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "data" / "new.csv")
    with AtomicOutput(dangling) as out:
        out.handle.write(b"first\n")
        out.commit()
    assert dangling.is_symlink() and (tmp_path / "data" / "new.csv").read_text() == "first\n"


@pytest.mark.parametrize("by_name", [False, True])
def test_a_replaced_file_keeps_its_mode_owner_and_group(tmp_path: Path, by_name: bool) -> None:
    """The issue's case: a 0600 file of patient scores became 0644 when it was written again."""
    target = tmp_path / "scores.csv"
    target.write_text("old\n")
    target.chmod(0o600)
    owner = (1234, 5678) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    os.chown(target, *owner)
    with AtomicOutput(target, by_name=by_name) as out:
        (out.path.write_bytes(b"new\n") if by_name else out.handle.write(b"new\n"))
        out.commit()
    st = target.stat()
    assert target.read_text() == "new\n" and st.st_mode & 0o7777 == 0o600 and (st.st_uid, st.st_gid) == owner
