"""Tests for ``python -m scoring.inspect``: what a consumer needs, verified, as text or JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from scoring.inspect import main


def test_text_report_names_input_outputs_features_threshold_and_label(export_dir: Path, capsys) -> None:
    assert main([str(export_dir)]) == 0
    out = capsys.readouterr().out
    assert "input:     features float32 [batch, 30]" in out
    assert "probability float32 [batch]" in out and "label int64 [batch]" in out
    assert "features:  30, in this order: radius_mean, texture_mean," in out
    assert "threshold: 0.5 (label = probability > threshold, applied in the graph)" in out
    assert "label:     column 'diagnosis': 1 = 'M' (malignant (M)), 0 = 'B' (benign (B))" in out
    assert "verified:  model.onnx and saved_model/ name each other's SHA-256" in out
    assert "verified:  the ONNX graph applies the metadata's threshold" in out


def test_json_report(export_dir: Path, capsys) -> None:
    assert main([str(export_dir / "model.onnx"), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["inputs"] == [{"name": "features", "dtype": "float32", "shape": ["batch", 30]}]
    assert {o["name"] for o in facts["outputs"]} == {"probability", "logit", "label"}
    assert facts["positive_class"] == "M" and facts["threshold"] == 0.5 and len(facts["hashes"]["onnx_sha256"]) == 64
    assert facts["metrics"]["test"]["n"] == 142


def test_mixed_export_is_one_line_exit_2(export_dir: Path, other_export_dir: Path, tmp_path: Path, capsys) -> None:
    mixed = tmp_path / "mixed"
    shutil.copytree(export_dir, mixed)
    shutil.copy(other_export_dir / "model.onnx", mixed / "model.onnx")
    assert main([str(mixed)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ModelError: ") and "not from the same export" in err[0]


def test_cli_runs_without_tensorflow(export_dir: Path) -> None:
    code = ("import runpy, sys; sys.modules['tensorflow'] = None; sys.argv = ['inspect', sys.argv[1]]; "
            "runpy.run_module('scoring.inspect', run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", code, str(export_dir / "saved_model")], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "features float32 [batch, 30]" in done.stdout


def test_the_family_and_its_layer_widths_are_shown(export_dir: Path, mlp_export_dir: Path, capsys) -> None:
    assert main([str(mlp_export_dir)]) == 0
    assert "family:    mlp, layer widths 30-32-16-1, activation relu\n" in capsys.readouterr().out
    assert main([str(export_dir)]) == 0
    assert "family:    logreg, layer widths 30-1\n" in capsys.readouterr().out
    assert main([str(mlp_export_dir / "saved_model"), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert (facts["family"], facts["layer_widths"], facts["activation"]) == ("mlp", [30, 32, 16, 1], "relu")


def test_an_onnx_file_from_before_families_is_shown_as_logistic_regression(export_dir: Path, tmp_path: Path,
                                                                            capsys) -> None:
    import onnx

    model = onnx.load(str(export_dir / "model.onnx"))
    kept = [p for p in model.metadata_props if p.key not in ("family", "layer_widths", "activation")]
    assert len(kept) == len(model.metadata_props) - 3
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    onnx.save(model, str(tmp_path / "old.onnx"))
    assert main([str(tmp_path / "old.onnx")]) == 0
    assert "family:    logreg, layer widths 30-1\n" in capsys.readouterr().out
