"""The ONNX file works on its own: onnxruntime and numpy only, with TensorFlow made unimportable."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from model.data import load_dataset
from model.wdbc import load_bundled

# What another service would write: no project code, no TensorFlow, names from the metadata.
CLIENT = textwrap.dedent(
    """
    import sys
    sys.modules["tensorflow"] = None  # any `import tensorflow` now raises ImportError
    import json
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    names = json.loads(meta["feature_names"])
    header, *rows = open(sys.argv[2]).read().splitlines()
    columns = header.split(",")
    order = [columns.index(n) for n in names]
    x = np.array([[float(r.split(",")[i]) for i in order] for r in rows], dtype=np.float32)
    out = dict(zip([o.name for o in session.get_outputs()],
                   session.run(None, {session.get_inputs()[0].name: x})))
    assert "tensorflow" not in {m.split(".")[0] for m in sys.modules if sys.modules[m] is not None}
    print(json.dumps({"threshold": float(meta["threshold"]), "labels": out["label"].tolist(),
                      "p0": float(out["probability"][0])}))
    """
)


def test_onnx_model_runs_without_tensorflow(export_dir: Path, tmp_path: Path) -> None:
    import json

    frame = load_bundled().to_pandas()
    csv = tmp_path / "rows.csv"
    # Reverse the feature columns so only the metadata's names can put them in model order.
    frame[["id", *reversed(frame.columns[2:])]].head(50).to_csv(csv, index=False)
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    done = subprocess.run([sys.executable, str(script), str(export_dir / "model.onnx"), str(csv)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    # Same labels as the project's own ONNX call on correctly ordered columns.
    import onnxruntime as ort

    expected = ort.InferenceSession(str(export_dir / "model.onnx")).run(
        ["label", "probability"], {"features": load_dataset().x[:50]})
    assert result["labels"] == expected[0].tolist()
    assert result["p0"] == float(expected[1][0])


def test_blocking_tensorflow_really_blocks_it(tmp_path: Path) -> None:
    """Guard for the test above: the blocking trick must make `import tensorflow` fail."""
    done = subprocess.run([sys.executable, "-c", "import sys; sys.modules['tensorflow'] = None; import tensorflow"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "import of tensorflow halted" in done.stderr
