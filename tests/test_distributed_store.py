"""Tests for scoring.distributed.store: OUT_DIR's commit protocol on a local filesystem."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scoring.distributed.store import MERGED, SUCCESS, OutputStore, temporary_name
from scoring.errors import ScoringError


def test_check_refuses_a_file_and_a_non_empty_directory(tmp_path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ScoringError, match="exists and is not a directory"):
        OutputStore(str(tmp_path / "file")).check(overwrite=True)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with pytest.raises(ScoringError, match=r"out/ is not empty; pass --overwrite to replace the part files"):
        OutputStore(str(tmp_path / "out")).check(overwrite=False)
    OutputStore(str(tmp_path / "out")).check(overwrite=True)
    OutputStore(str(tmp_path / "missing")).check(overwrite=False)  # created later, by prepare()


def test_overwrite_removes_only_what_a_job_writes(tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    ours = ["part-00000-000000.csv", "part-00012-000345.csv", MERGED, SUCCESS,
            temporary_name("part-00000-000001.csv"), temporary_name(MERGED)]
    theirs = ["part-1.csv", "part-00000-000000.csv.bak", "scored.csv.old", "input.csv", ".hidden", "_SUCCESS.txt"]
    for name in ours + theirs:
        (out / name).write_text(name)
    OutputStore(str(out)).prepare(overwrite=True)
    assert sorted(os.listdir(out)) == sorted(theirs)
    assert all((out / n).read_text() == n for n in theirs)


def test_prepare_makes_the_directory(tmp_path) -> None:
    OutputStore(str(tmp_path / "a" / "b")).prepare(overwrite=False)
    assert (tmp_path / "a" / "b").is_dir()


def test_put_publishes_atomically_and_sweeps_a_retried_blocks_stale_temporary(tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    name = "part-00000-000003.csv"
    stale = out / temporary_name(name)  # what a worker killed mid-copy leaves behind
    stale.write_text("half")
    other = out / temporary_name("part-00000-000004.csv")  # another block's attempt may still be running
    other.write_text("busy")
    local = tmp_path / "scored.csv"
    local.write_text("id,probability,label\n1,0.5,0\n")
    OutputStore(str(out)).put(local, name)
    assert (out / name).read_text() == local.read_text()
    assert sorted(os.listdir(out)) == sorted([name, other.name])
    other.unlink()  # made by this test, on purpose; the suite fails any test that leaves a temporary behind


def test_sweep_removes_every_job_temporary_and_nothing_else(tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    temporaries = [temporary_name("part-00001-000000.csv"), temporary_name(SUCCESS)]
    for name in [*temporaries, "part-00001-000000.csv", ".part-x.tmp"]:
        (out / name).write_text("x")
    assert sorted(OutputStore(str(out)).sweep()) == sorted(temporaries)
    assert sorted(os.listdir(out)) == [".part-x.tmp", "part-00001-000000.csv"]
    (out / ".part-x.tmp").unlink()  # made by this test, on purpose


def test_a_failed_write_leaves_neither_the_file_nor_a_temporary(tmp_path) -> None:
    store = OutputStore(str(tmp_path))
    (tmp_path / MERGED).write_text("previous")
    with pytest.raises(RuntimeError), store.writer(MERGED) as out:
        out.write(b"half")
        raise RuntimeError("disk full")
    assert os.listdir(tmp_path) == [MERGED] and (tmp_path / MERGED).read_text() == "previous"


def test_merge_keeps_one_header_and_the_part_order(tmp_path) -> None:
    store = OutputStore(str(tmp_path))
    for name, body in [("part-00001-000000.csv", "3,c\n"), ("part-00000-000001.csv", "2,b\n"),
                       ("part-00000-000000.csv", "1,a\n")]:
        (tmp_path / name).write_text("id,x\n" + body)
    assert store.merge() == f"{tmp_path}/{MERGED}"
    assert (tmp_path / MERGED).read_text() == "id,x\n1,a\n2,b\n3,c\n"


def test_contains_follows_symbolic_links_and_respects_name_boundaries(tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "link").symlink_to(out)
    store = OutputStore(str(tmp_path / "link"))
    assert store.contains(str(out / "a.csv")) and store.contains(str(tmp_path / "link" / "a.csv"))
    assert not store.contains(str(tmp_path / "out2" / "a.csv")) and not store.contains("s3://b/out/a.csv")


def test_a_failed_put_leaves_no_temporary(tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    store = OutputStore(str(out))
    store.fs.put_file = lambda *a, **k: (Path(a[1]).write_text("half"), _raise(OSError("disk full")))  # noqa: ARG005
    with pytest.raises(OSError, match="disk full"):
        store.put(tmp_path / "scored.csv", "part-00000-000000.csv")
    assert os.listdir(out) == []


def _raise(exc: BaseException) -> None:
    raise exc
