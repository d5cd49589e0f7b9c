"""Tests for model.files: ``--out`` replaces only an earlier run of its kind, never an input, atomically even
against SIGKILL."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from contract.temporaries import HOST
from export.__main__ import main as export_main
from export.layout import EXPORT
from model.files import TRAINING_RUN, atomic_directory, check_out, write_manifest
from model.train import main as train_main
from tests.conftest import die_with_parent

REPO = Path(__file__).resolve().parents[1]


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def a_run(folder: Path, content: str = "old") -> Path:
    """A folder that is a training run as far as --out is concerned: its manifest lists every file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.json").write_text(content)
    (folder / "checkpoint").mkdir(exist_ok=True)
    (folder / "checkpoint" / "classifier.index").write_text(content)
    write_manifest(folder)
    return folder


# ---------------------------------------------------------------------------------------------- what --out replaces


@pytest.mark.parametrize("where", ["project", "cwd"])
def test_export_into_a_folder_that_is_not_an_export_is_refused_and_loses_nothing(
        model_dir: Path, tmp_path: Path, monkeypatch, capsys, where: str) -> None:
    """The issue's case: `python -m export --out .` (or ~/project) deleted everything in it and exited 0."""
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "main.py").write_text("print('mine')\n")
    (project / "notes.txt").write_text("keep me\n")
    before = snapshot(project)
    out = str(project)
    if where == "cwd":
        monkeypatch.chdir(project)
        out = "."
    assert export_main(["--model", str(model_dir), "--out", out]) == 2
    assert one_line(capsys).startswith(f"FileExistsError: --out {project} is not empty and is not an earlier export")
    assert snapshot(project) == before and sorted(os.listdir(project)) == ["notes.txt", "src"]


def test_export_onto_or_inside_its_model_is_refused(model_dir: Path, tmp_path: Path, capsys) -> None:
    model = tmp_path / "model"
    shutil.copytree(model_dir, model)
    before = snapshot(model)
    assert export_main(["--model", str(model), "--out", str(model)]) == 2
    assert one_line(capsys).startswith(f"FileExistsError: --out {model} is --model {model}; writing there would")
    assert export_main(["--model", str(model), "--out", str(model / "export")]) == 2
    assert f"--out {model / 'export'} lies inside --model {model}" in one_line(capsys)
    assert snapshot(model) == before


def test_training_into_the_folder_of_its_data_is_refused(wdbc_csv: Path, tmp_path: Path, capsys) -> None:
    """The issue's case: `model.train --data DIR/data.csv --out DIR` deleted the training data."""
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(wdbc_csv, folder / "data.csv")
    shutil.copy(wdbc_csv, folder / "test.csv")
    common = ["--label", "diagnosis", "--positive", "M", "--epochs", "2", "--quiet"]
    assert train_main(["--data", str(folder / "data.csv"), *common, "--out", str(folder)]) == 2
    assert f"FileExistsError: --out {folder} holds --data {folder / 'data.csv'}" in one_line(capsys)
    assert train_main(["--data", str(wdbc_csv), "--test", str(folder / "test.csv"), *common, "--out", str(folder)]) == 2
    assert f"holds --test {folder / 'test.csv'}" in one_line(capsys)
    assert sorted(os.listdir(folder)) == ["data.csv", "test.csv"]
    assert (folder / "data.csv").read_bytes() == wdbc_csv.read_bytes()


def test_a_training_run_holding_files_it_did_not_write_is_not_replaced(tmp_path: Path, capsys) -> None:
    run = a_run(tmp_path / "run")
    (run / "my-notes.txt").write_text("mine\n")
    (run / "checkpoint" / "extra.bin").write_text("mine\n")
    before = snapshot(run)
    assert train_main(["--epochs", "2", "--quiet", "--out", str(run)]) == 2
    line = one_line(capsys)
    assert f"--out {run} is an earlier training run, but it also holds files the run did not write" in line
    assert "'checkpoint/extra.bin'" in line and "'my-notes.txt'" in line
    assert snapshot(run) == before


def test_a_training_run_is_not_an_export_and_an_export_is_not_a_training_run(tmp_path: Path) -> None:
    run = a_run(tmp_path / "run")
    with pytest.raises(FileExistsError, match="is not an earlier export"):
        check_out(run, EXPORT)
    check_out(run, TRAINING_RUN)


def test_a_refusal_lists_at_most_a_few_names(tmp_path: Path) -> None:
    run = a_run(tmp_path / "run")
    for i in range(1000):
        (run / f"{'x' * 200}{i:04d}.txt").write_text("")
    with pytest.raises(FileExistsError) as caught:
        check_out(run, TRAINING_RUN)
    assert len(str(caught.value)) < 600 and "more" in str(caught.value)


@pytest.mark.parametrize("kind", [TRAINING_RUN, EXPORT])
def test_new_and_empty_folders_and_earlier_runs_are_replaced(tmp_path: Path, kind) -> None:
    for folder in (tmp_path / "new" / "deeper", tmp_path / "empty"):
        if folder.name == "empty":
            folder.mkdir()
        with atomic_directory(folder, kind) as staging:
            (staging / "model.json").write_text("new")
            write_manifest(staging) if kind is TRAINING_RUN else _export_manifest(staging)
        assert (folder / "model.json").read_text() == "new"
        with atomic_directory(folder, kind) as staging:  # an earlier run of its kind
            (staging / "model.json").write_text("newer")
            write_manifest(staging) if kind is TRAINING_RUN else _export_manifest(staging)
        assert (folder / "model.json").read_text() == "newer"


def _export_manifest(folder: Path) -> None:
    from contract.artifacts import EXPORT_MANIFEST_FORMAT, write_manifest as write

    write(folder, EXPORT_MANIFEST_FORMAT)


def test_an_export_made_before_exports_had_a_manifest_is_replaced(export_dir: Path, tmp_path: Path) -> None:
    old = tmp_path / "export"
    shutil.copytree(export_dir, old)
    (old / "manifest.json").unlink()
    sidecar = old / "saved_model" / "assets" / "metadata.json"
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "format": "logreg-export/2"}))
    check_out(old, EXPORT)
    (old / "mine.txt").write_text("")
    with pytest.raises(FileExistsError, match="is not an earlier export"):
        check_out(old, EXPORT)


def test_a_symlinked_out_keeps_its_link_and_the_target_folder_is_replaced(tmp_path: Path) -> None:
    real = a_run(tmp_path / "real")
    link = tmp_path / "link"
    link.symlink_to(real)
    with atomic_directory(link, TRAINING_RUN) as staging:
        (staging / "model.json").write_text("new")
        write_manifest(staging)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert (real / "model.json").read_text() == "new"


def test_a_replaced_run_keeps_its_folder_mode(tmp_path: Path) -> None:
    run = a_run(tmp_path / "run")
    run.chmod(0o750)
    with atomic_directory(run, TRAINING_RUN) as staging:
        (staging / "model.json").write_text("new")
        write_manifest(staging)
    assert (run.stat().st_mode & 0o777) == 0o750


def test_an_input_reached_through_a_bind_mount_is_still_an_input(tmp_path: Path, bind_mount) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "data.csv").write_text("a,y\n1,0\n")
    other = bind_mount(folder)
    with pytest.raises(FileExistsError, match=f"--out {other} holds --data {folder / 'data.csv'}"):
        check_out(other, TRAINING_RUN, {"--data": folder / "data.csv"})
    with pytest.raises(FileExistsError, match=f"lies inside --model {folder}"):
        check_out(other / "export", EXPORT, {"--model": folder})


# ---------------------------------------------------------------------------------------------- SIGKILL at the swap

#: A child that replaces the run at ``target`` and kills itself with SIGKILL at its N-th step that changes the
#: filesystem once the new run is written (os.rename/replace, rmtree, a foreign call such as renameat2): a kill
#: between any two steps of the swap.
_KILLED_AT_STEP = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    import model.files as files
    from model.files import TRAINING_RUN, atomic_directory, write_manifest

    target, step, fallback = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "fallback"
    if fallback:
        files.exchange = lambda a, b: False  # a filesystem without RENAME_EXCHANGE
    seen, armed = [0], [False]

    def hook(event, args):
        if armed[0] and event in ("os.rename", "shutil.rmtree", "os.remove", "os.rmdir", "ctypes.call_function"):
            seen[0] += 1
            if seen[0] == step:
                os.kill(os.getpid(), signal.SIGKILL)

    sys.addaudithook(hook)
    with atomic_directory(target, TRAINING_RUN) as staging:
        (staging / "model.json").write_text("new")
        (staging / "checkpoint").mkdir()
        (staging / "checkpoint" / "classifier.index").write_text("new")
        write_manifest(staging)
        armed[0] = True
""")


@pytest.mark.slow
@pytest.mark.parametrize("swap", ["exchange", "fallback"])
def test_sigkill_at_any_step_of_the_swap_leaves_one_whole_run(tmp_path: Path, swap: str) -> None:
    """The issue's case: a kill between the two renames left --out missing, the old run only under .NAME.old-*."""
    target = tmp_path / "run"
    for step in range(1, 20):
        shutil.rmtree(target, ignore_errors=True)
        a_run(target, "old")
        done = subprocess.run([sys.executable, "-c", _KILLED_AT_STEP, str(target), str(step), swap], cwd=REPO,
                              capture_output=True, text=True, timeout=120, preexec_fn=die_with_parent)
        if done.returncode == 0:  # no step left to be killed at
            assert (target / "model.json").read_text() == "new"
            break
        assert done.returncode == -signal.SIGKILL, done.stderr
        if swap == "exchange":  # whole at --out at every moment
            assert (target / "model.json").read_text() in ("old", "new")
        check_out(target, TRAINING_RUN)  # what the next run does first: put back or remove what was left
        content = (target / "model.json").read_text()
        assert content in ("old", "new") and (target / "checkpoint" / "classifier.index").read_text() == content
        assert sorted(os.listdir(tmp_path)) == ["run"], f"step {step}: {os.listdir(tmp_path)}"
    else:
        pytest.fail("the child was killed at every step")
    assert step >= 2  # it was killed at least once after the new run was written


def test_a_run_retired_by_a_killed_fallback_swap_is_put_back(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    retired = a_run(tmp_path / f".run.{HOST}.{proc.pid}.old-ab12cd34.tmp", "old")
    staging = a_run(tmp_path / f".run.{HOST}.{proc.pid}.zz99yy00.tmp", "half")
    check_out(tmp_path / "run", TRAINING_RUN)
    assert sorted(os.listdir(tmp_path)) == ["run"]
    assert (tmp_path / "run" / "model.json").read_text() == "old"
    assert not retired.exists() and not staging.exists()
