"""Tests for contract.tfquiet: TensorFlow imported without its log lines, and without Keras for loading a SavedModel."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

LEAN_LOAD = """
import json, sys
import numpy as np
from contract.tfquiet import import_tensorflow
tf = import_tensorflow(lean=sys.argv[2] == "lean")
loaded = {m: m in sys.modules for m in ("keras", "tf_keras", "matplotlib", "sklearn")}
signature = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
probability = signature(features=tf.constant(np.full((2, 30), 0.5, np.float32)))["probability"].numpy()
layer = tf.keras.layers.Dense(2)  # Keras still loads on first use
print(json.dumps({"loaded": loaded, "probability": probability.tolist(), "keras": type(layer).__module__}))
"""


def _load(export_dir: Path, mode: str) -> tuple[dict, str]:
    done = subprocess.run([sys.executable, "-c", LEAN_LOAD, str(export_dir / "saved_model"), mode],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


@pytest.mark.slow
def test_a_lean_import_loads_and_runs_a_saved_model_without_keras(export_dir: Path) -> None:
    lean, err = _load(export_dir, "lean")
    assert lean["loaded"] == {"keras": False, "tf_keras": False, "matplotlib": False, "sklearn": False}
    assert lean["keras"].startswith("keras.")
    assert err == ""  # no TensorFlow log line either
    full, _ = _load(export_dir, "full")
    assert full["loaded"]["keras"]  # the guard: a plain import does bring Keras
    assert lean["probability"] == full["probability"]
