"""The README's main job end to end, as a new user runs it (real subprocesses for every step)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

#: Each runs real subprocesses end to end: left out of the fast subset (`pytest -m "not slow"`).
pytestmark = pytest.mark.slow


def test_journey_trains_exports_and_scores_on_both_runtimes(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "model.journey", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "onnx vs tf on 569 rows: labels identical" in done.stdout
    for path in ("model/report.json", "export/model.onnx", "export/parity.json", "scored_onnx.csv", "scored_tf.csv"):
        assert (tmp_path / path).is_file(), path
    assert "scored 569 rows" in done.stderr
