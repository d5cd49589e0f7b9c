"""The ONNX file works on its own: onnxruntime and numpy only, with TensorFlow made unimportable."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

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


def readme_snippet() -> str:
    """The README's "Calling the ONNX model from another service" code, as written."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Calling the ONNX model from another service", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


@pytest.mark.parametrize("family", ["logreg", "mlp"])
def test_the_readmes_snippet_scores_every_family_as_written(family: str, request: pytest.FixtureRequest,
                                                            tmp_path: Path) -> None:
    import json

    export = request.getfixturevalue({"logreg": "export_dir", "mlp": "mlp_export_dir"}[family])
    (tmp_path / "artifacts").mkdir()
    (tmp_path / "artifacts" / "export").symlink_to(export)
    x = load_dataset().x[:20]
    np.save(tmp_path / "rows.npy", x)
    script = tmp_path / "client.py"
    script.write_text("import sys\nsys.modules['tensorflow'] = None\nimport numpy\n"
                      "rows_in_feature_order = numpy.load('rows.npy').tolist()\n" + readme_snippet()
                      + "print(json.dumps({'p': probability.tolist(), 'label': label.tolist()}))\n")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    import onnxruntime as ort

    expected = ort.InferenceSession(str(export / "model.onnx")).run(["probability", "label"], {"features": x})
    assert result == {"p": expected[0].tolist(), "label": expected[1].tolist()}
