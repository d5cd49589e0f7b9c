"""Tests for scoring.distributed.store: OUT_DIR's commit protocol on a local filesystem."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract.temporaries import HOST
from scoring.distributed.store import CLAIM, MERGED, PART, SUCCESS, OutputStore, part_name, temporary_name
from scoring.errors import ScoringError
from tests.expect import says


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


@given(st.lists(st.tuples(st.integers(0, 99_999), st.integers(0, 999_999)), min_size=2, unique=True),
       st.sampled_from(["csv", "parquet"]))
def test_part_names_sort_in_input_order_and_are_what_overwrite_removes(blocks, fmt) -> None:
    """The merge concatenates parts in name order: that must be (file, block) order, up to 100,000 files
    of a million blocks each."""
    names = {part_name(file_index, block_index, fmt): (file_index, block_index) for file_index, block_index in blocks}
    assert all(PART.fullmatch(name) and name.endswith(f".{fmt}") for name in names)
    assert [names[name] for name in sorted(names)] == sorted(blocks)


def test_merge_keeps_one_header_and_the_part_order(tmp_path) -> None:
    store = OutputStore(str(tmp_path))
    for name, body in [("part-00001-000000.csv", "3,c\n"), ("part-00000-000001.csv", "2,b\n"),
                       ("part-00000-000000.csv", "1,a\n")]:
        (tmp_path / name).write_text("id,x\n" + body)
    (tmp_path / "part-00002-000000.csv").write_text("id,x\nzzz,9\n")  # not this job's: not merged
    planned = ["part-00000-000000.csv", "part-00000-000001.csv", "part-00001-000000.csv"]
    assert store.merge("csv", planned) == f"{tmp_path}/{MERGED}"
    assert (tmp_path / MERGED).read_text() == "id,x\n1,a\n2,b\n3,c\n"


def test_contains_follows_symbolic_links_and_respects_name_boundaries(tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "link").symlink_to(out)
    store = OutputStore(str(tmp_path / "link"))
    assert store.contains(str(out / "a.csv")) and store.contains(str(tmp_path / "link" / "a.csv"))
    assert not store.contains(str(tmp_path / "out2" / "a.csv")) and not store.contains("s3://b/out/a.csv")


def test_a_failed_put_leaves_no_temporary(tmp_path, monkeypatch) -> None:
    out = tmp_path / "out"
    out.mkdir()
    store = OutputStore(str(out))
    # monkeypatch, not an assignment: fsspec shares one filesystem instance, so the stub must not outlive the test.
    monkeypatch.setattr(store.fs, "put_file",
                        lambda *a, **k: (Path(a[1]).write_text("half"), _raise(OSError("disk full"))))  # noqa: ARG005
    with pytest.raises(OSError, match="disk full"):
        store.put(tmp_path / "scored.csv", "part-00000-000000.csv")
    assert os.listdir(out) == []


def _raise(exc: BaseException) -> None:
    raise exc


def test_a_url_input_is_never_inside_a_local_out_dir_even_one_spelled_like_it(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = OutputStore(str(tmp_path / "s3:" / "b"))  # a local directory that reads like the bucket's URL
    assert not store.contains("s3://b/a.csv")
    assert store.contains(str(tmp_path / "s3:" / "b" / "a.csv"))


def test_contains_on_a_store_compares_urls_by_name_boundary() -> None:
    store = OutputStore("memory://wdbc-contains/out/")  # inputs come canonical: memory:///wdbc-contains/...
    assert store.contains("memory:///wdbc-contains/out/a.csv") and store.contains("memory:///wdbc-contains/out")
    assert not store.contains("memory:///wdbc-contains/out2/a.csv")
    assert not store.contains("memory:///wdbc-contains/a.csv")


def test_put_writes_under_a_hidden_temporary_name_that_sweep_and_overwrite_know(tmp_path, monkeypatch) -> None:
    from scoring.distributed.store import TEMPORARY

    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "part.csv").write_text("id,x\n1,a\n")
    store = OutputStore(str(out))
    targets: list[str] = []
    put_file = store.fs.put_file
    monkeypatch.setattr(store.fs, "put_file",
                        lambda local, target, **kw: (targets.append(target), put_file(local, target, **kw)))
    store.put(tmp_path / "part.csv", "part-00000-000000.csv")
    assert len(targets) == 1 and TEMPORARY.fullmatch(os.path.basename(targets[0]))
    assert os.path.basename(targets[0]).startswith(".part-00000-000000.csv.")
    assert os.listdir(out) == ["part-00000-000000.csv"]


def test_on_an_object_store_a_file_appears_in_one_upload_with_no_temporary(tmp_path, monkeypatch) -> None:
    """Object stores have no rename: the finished file is uploaded once, to its own name."""
    store = OutputStore("memory://wdbc-single-put/out")
    store.single_put = True  # as on S3, GCS or Azure (memory:// has a rename, so it is not one by default)
    uploads: list[tuple[str, str]] = []
    put_file = store.fs.put_file
    monkeypatch.setattr(store.fs, "put_file",
                        lambda local, target, **kw: (uploads.append((local, target)), put_file(local, target, **kw)))
    (tmp_path / "part.csv").write_text("id,x\n1,a\n")
    store.put(tmp_path / "part.csv", "part-00000-000000.csv")
    store.write_success('{"rows": 1}')
    assert [target for _, target in uploads] == ["/wdbc-single-put/out/part-00000-000000.csv",
                                                  "/wdbc-single-put/out/_SUCCESS"]
    assert uploads[0][0] == str(tmp_path / "part.csv")
    assert store.names() == ["_SUCCESS", "part-00000-000000.csv"]
    assert store.fs.cat_file(store.path("part-00000-000000.csv")) == b"id,x\n1,a\n"
    assert store.fs.cat_file(store.path(SUCCESS)) == b'{"rows": 1}'


def test_write_success_writes_the_summary_atomically(tmp_path) -> None:
    store = OutputStore(str(tmp_path))
    store.write_success('{"rows": 3}\n')
    assert os.listdir(tmp_path) == [SUCCESS] and (tmp_path / SUCCESS).read_text() == '{"rows": 3}\n'


def test_a_non_empty_out_dir_message_names_what_overwrite_replaces(tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ScoringError) as info:
        OutputStore(str(tmp_path)).check(overwrite=False)
    says(str(info.value), f"{tmp_path}/ is not empty", "--overwrite")


def test_an_object_store_out_dir_needs_its_bucket_but_not_its_prefix() -> None:
    store = OutputStore("memory://wdbc-bucket-check/out/sub")
    store.single_put = True  # as on S3, whose paths are spelled bucket/key
    store.root = "wdbc-bucket-check/out/sub"
    with pytest.raises(ScoringError) as info:
        store.check(overwrite=False)
    says(str(info.value), "memory://wdbc-bucket-check", "does not exist", "OUT_DIR")
    store.fs.mkdir("wdbc-bucket-check")
    try:
        store.check(overwrite=False)  # the bucket exists; the prefix appears with the first upload
    finally:
        store.fs.rm("wdbc-bucket-check", recursive=True)


def test_overwrite_removes_success_first_and_tolerates_a_fresh_directory(tmp_path, monkeypatch) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for name in ("part-00000-000000.csv", SUCCESS):
        (out / name).write_text("x")
    store = OutputStore(str(out))
    removed: list[str] = []
    remove = store.remove
    monkeypatch.setattr(store, "remove", lambda name: (removed.append(name), remove(name)))
    store.prepare(overwrite=True)
    assert removed[0] == SUCCESS and os.listdir(out) == []  # a half-replaced directory never looks complete
    OutputStore(str(tmp_path / "new")).prepare(overwrite=True)  # nothing to remove yet
    assert os.listdir(tmp_path / "new") == []


def test_display_names_files_under_the_root_directory_too() -> None:
    assert OutputStore("/").display("a.csv") == "/a.csv"


def test_merge_of_parquet_parts_appends_their_row_groups_in_order_with_the_schema(tmp_path) -> None:
    import polars as pl
    import pyarrow.parquet as pq

    from scoring.distributed.store import MERGED_NAMES

    store = OutputStore(str(tmp_path))
    frames = {"part-00001-000000.parquet": pl.DataFrame({"id": ["c", "d"], "label": [1, 0]}),
              "part-00000-000001.parquet": pl.DataFrame({"id": ["b"], "label": [1]}),
              "part-00000-000000.parquet": pl.DataFrame({"id": ["a"], "label": [0]})}
    for name, frame in frames.items():
        frame.write_parquet(tmp_path / name, row_group_size=1)
    (tmp_path / "part-00000-000000.csv").write_text("id,label\nzzz,9\n")  # another format: not merged
    assert store.merge("parquet", sorted(frames)) == f"{tmp_path}/{MERGED_NAMES['parquet']}"
    merged = pl.read_parquet(tmp_path / "scored.parquet")
    assert merged.to_dict(as_series=False) == {"id": ["a", "b", "c", "d"], "label": [0, 1, 1, 0]}
    assert merged.schema == {"id": pl.String, "label": pl.Int64}
    assert pq.ParquetFile(tmp_path / "scored.parquet").metadata.num_row_groups == 4  # each part's row groups


def test_overwrite_removes_parquet_parts_and_the_merged_parquet_file_too(tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    ours = ["part-00000-000000.parquet", "scored.parquet", temporary_name("part-00003-000001.parquet")]
    theirs = ["part-00000-000000.pq", "scored.pq", "data.parquet"]
    for name in ours + theirs:
        (out / name).write_text(name)
    OutputStore(str(out)).prepare(overwrite=True)
    assert sorted(os.listdir(out)) == sorted(theirs)


def test_an_s3_out_dir_gets_the_storage_options_and_writes_in_one_upload() -> None:
    """--storage-option values (endpoint, credentials) reach the store's filesystem; S3 has no rename."""
    store = OutputStore("s3://wdbc-options/out/", {"anon": True, "endpoint_url": "http://127.0.0.1:9"})
    assert store.fs.storage_options == {"anon": True, "endpoint_url": "http://127.0.0.1:9"}
    assert store.single_put is True
    assert store.display("scored.csv") == "s3://wdbc-options/out/scored.csv"


@pytest.mark.parametrize("name", ["BOX", "out "])
def test_an_out_dir_whose_name_ends_in_x_or_a_space_is_used_as_named(tmp_path, name: str) -> None:
    out = tmp_path / name
    store = OutputStore(str(out))
    store.prepare(overwrite=False)
    with store.writer(MERGED) as handle:
        handle.write(b"id\n1\n")
    assert os.listdir(tmp_path) == [name] and (out / MERGED).read_bytes() == b"id\n1\n"
    assert store.names() == [MERGED] and store.display(MERGED) == f"{out}/{MERGED}"
    assert store.contains(str(out / "in.csv"))
    assert not store.contains(str(tmp_path / name.strip(" X") / "in.csv"))


@pytest.mark.parametrize("name", ["BOX", "out "])
def test_contains_on_a_store_whose_prefix_ends_in_x_or_a_space(name: str) -> None:
    store = OutputStore(f"memory://wdbc-contains-x/{name}")
    assert store.contains(f"memory:///wdbc-contains-x/{name}/a.csv")
    assert not store.contains(f"memory:///wdbc-contains-x/{name.strip(' X')}/a.csv")


def test_a_put_that_fails_before_its_temporary_exists_raises_its_own_error(tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(FileNotFoundError, match="no-such-part.csv"):  # not an error about the missing temporary
        OutputStore(str(out)).put(tmp_path / "no-such-part.csv", "part-00000-000000.csv")
    assert os.listdir(out) == []


def test_a_second_claim_on_an_out_dir_fails_and_names_the_job_that_holds_it(tmp_path) -> None:
    out = str(tmp_path / "out")
    OutputStore(out).claim("aaaa1111", overwrite=False)
    with pytest.raises(ScoringError, match=r"out/ is being written by job aaaa1111 \(host .*, pid \d+, started .*\): "
                                           r"wait for it to finish or choose another OUT_DIR"):
        OutputStore(out).claim("bbbb2222", overwrite=True)
    with pytest.raises(ScoringError, match="being written by job aaaa1111"):  # the client's early check says so too
        OutputStore(out).check(overwrite=True)
    OutputStore(out).release("bbbb2222")  # not its claim: left alone
    assert json.loads((tmp_path / "out" / CLAIM).read_text())["job"] == "aaaa1111"
    OutputStore(out).release("aaaa1111")
    assert os.listdir(tmp_path / "out") == []
    OutputStore(out).claim("bbbb2222", overwrite=False)
    OutputStore(out).release("bbbb2222")


def test_a_claim_checks_again_that_the_out_dir_is_empty_and_lets_go_if_not(tmp_path) -> None:
    """The client's early check can be long past: another job may have finished into OUT_DIR since."""
    (tmp_path / "part-00000-000000.csv").write_text("id\n")
    with pytest.raises(ScoringError, match="is not empty; pass --overwrite"):
        OutputStore(str(tmp_path)).claim("aaaa1111", overwrite=False)
    assert os.listdir(tmp_path) == ["part-00000-000000.csv"]
    OutputStore(str(tmp_path)).claim("aaaa1111", overwrite=True)
    OutputStore(str(tmp_path)).release("aaaa1111")


def test_a_claim_left_by_a_killed_job_on_this_host_is_named_as_such(tmp_path) -> None:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    (tmp_path / CLAIM).write_text(json.dumps({"job": "dead0000", "host": HOST, "pid": proc.pid, "started": "x"}))
    with pytest.raises(ScoringError, match=rf"its process {proc.pid} on this host is gone, so it was killed: remove "
                                           rf".*/{CLAIM} and run again"):
        OutputStore(str(tmp_path)).claim("aaaa1111", overwrite=True)


def test_parts_must_be_exactly_the_jobs_own_before_success(tmp_path) -> None:
    store = OutputStore(str(tmp_path))
    planned = [part_name(0, i, "csv") for i in range(3)]
    for name in planned:
        (tmp_path / name).write_text("id\n")
    store.check_parts(planned)
    (tmp_path / "part-00007-000000.csv").write_text("id\n")
    with pytest.raises(ScoringError, match=r"holds 1 part file\(s\) this job did not write \('part-00007-000000.csv'\)"):
        store.check_parts(planned)
    (tmp_path / planned[1]).unlink()
    with pytest.raises(ScoringError, match=r"lacks 1 part file\(s\) this job wrote \('part-00000-000001.csv'\)"):
        store.check_parts(planned)
