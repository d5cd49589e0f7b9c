"""Tests for ``python -m export``: success output and one-line errors for bad input."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from export.__main__ import main


@pytest.mark.slow
def test_cli_exports_both_artifacts(model_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "export"
    assert main(["--model", str(model_dir), "--out", str(out)]) == 0
    assert (out / "model.onnx").is_file() and (out / "saved_model" / "saved_model.pb").is_file()
    assert (out / "parity.json").is_file()
    assert "all within tolerance" in capsys.readouterr().out


def corrupt_checkpoint(model_dir: Path, target: Path) -> Path:
    shutil.copytree(model_dir, target)
    for f in (target / "checkpoint").iterdir():
        f.write_bytes(b"\x00not a checkpoint")
    return target


@pytest.mark.parametrize(
    ("case", "code", "match"),
    [
        ("missing", 2, "DataError: No trained model in .*model.json is missing. Run `python -m model.train"),
        ("corrupt", 2, r"DataError: .*classifier.data-00000-of-00001 is not the file this run wrote"),
        ("opset", 2, "ExportError: tf2onnx could not convert the serving function at opset 99"),
        ("unwritable", 2, "FileExistsError: Output path .* exists and is not a directory"),
    ],
)
def test_cli_bad_input_gives_one_line_error(model_dir: Path, tmp_path: Path, capsys, case, code, match) -> None:
    model, out, extra = model_dir, tmp_path / "out", []
    if case == "missing":
        model = tmp_path / "nothing-here"
    elif case == "corrupt":
        model = corrupt_checkpoint(model_dir, tmp_path / "corrupt")
    elif case == "opset":
        extra = ["--opset", "99"]
    elif case == "unwritable":
        out = tmp_path / "a-file"
        out.write_text("keep me")
    assert main(["--model", str(model), "--out", str(out), *extra]) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert re.search(match, err[0]), err[0]
    if case == "unwritable":
        assert out.read_text() == "keep me"
    else:
        assert not out.exists()


@pytest.mark.slow
def test_cli_runs_as_a_module(model_dir: Path, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "export", "--model", str(model_dir), "--out", str(tmp_path / "e")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "e" / "model.onnx").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("size", ["8k", "32k", "48k"])
def test_full_disk_is_one_line_and_keeps_the_previous_export(model_dir: Path, export_dir: Path, small_disk, capsys,
                                                              size: str) -> None:
    """TensorFlow's own write errors (ResourceExhaustedError) were tracebacks."""
    import shutil

    disk = small_disk(size)
    assert main(["--model", str(model_dir), "--out", str(disk / "export"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"OSError: [Errno 28] No space left on device while writing "
                                               f"{disk / 'export'} (nothing was written)"), err
    assert list(disk.iterdir()) == []
    roomy = small_disk("120k")  # room for one export and part of a second
    shutil.copytree(export_dir, roomy / "export")
    before = sorted((p.relative_to(roomy), p.read_bytes()) for p in roomy.rglob("*") if p.is_file())
    assert main(["--model", str(model_dir), "--out", str(roomy / "export"), "--quiet"]) == 2
    assert "(the previous one is unchanged)" in capsys.readouterr().err
    assert sorted((p.relative_to(roomy), p.read_bytes()) for p in roomy.rglob("*") if p.is_file()) == before
