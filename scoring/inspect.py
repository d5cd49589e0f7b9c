"""``python -m scoring.inspect MODEL [--json]``: what a consumer of an exported model needs to know, verified."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

from contract.artifacts import (
    ONNX_FILE,
    SAVED_MODEL_DIR,
    SAVED_MODEL_PB,
    read_sidecar,
    resolve_model,
    sha256_saved_model,
)
from contract.cli import add_standard_options
from contract.errors import ToolkitError
from contract.metadata import INPUT_NAME, OUTPUT_NAMES, Metadata
from contract.verify import OnnxFile, verify_export_dir

#: What the report shows of the metadata besides its inputs, outputs and hashes (the hashes are checked instead).
SHOWN = tuple(f.name for f in fields(Metadata) if f.name not in ("n_features", "input_name", "output_names",
                                                                 "positive_label", "saved_model_sha256", "onnx_sha256"))
#: The SavedModel's outputs, as the serving signature declares them.
SAVED_MODEL_DTYPES = dict(zip(OUTPUT_NAMES, ("float32", "float32", "int64")))


def describe(model: str | Path) -> dict[str, Any]:
    """Every fact ``main`` prints, as a dict; raises ModelError (as a scorer would) if the artifact fails a check."""
    path = Path(model)
    onnx_path, saved_model = _locate(path)
    facts: dict[str, Any] = {"model": str(path), "onnx": str(onnx_path) if onnx_path else None,
                             "saved_model": str(saved_model) if saved_model else None, "checks": []}
    onnx = OnnxFile.read(onnx_path) if onnx_path else None
    if onnx and saved_model:
        facts["hashes"] = verify_export_dir(path, onnx)
        facts["checks"].append("model.onnx and saved_model/ name each other's SHA-256 and agree on their metadata, "
                               "and every file of the export is the one its manifest.json lists")
    if onnx:
        facts["inputs"], facts["outputs"] = _values(onnx.proto.graph.input), _values(onnx.proto.graph.output)
        meta = onnx.metadata(verify=True)
        facts["checks"].append("the ONNX graph applies the metadata's threshold")
        facts.setdefault("hashes", {"onnx_sha256": onnx.sha256})
    else:
        assert saved_model is not None
        meta = Metadata.from_dict(read_sidecar(saved_model), None, saved_model)
        n = len(meta.feature_names)
        facts["inputs"] = [{"name": INPUT_NAME, "dtype": "float32", "shape": ["batch", n]}]
        facts["outputs"] = [{"name": name, "dtype": dtype, "shape": ["batch"]}
                            for name, dtype in SAVED_MODEL_DTYPES.items()]
        facts["hashes"] = {"saved_model_sha256": sha256_saved_model(saved_model)}
        facts["checks"].append("the SavedModel's own threshold is checked when TensorFlow loads it "
                               "(python -m scoring.batch --runtime tf)")
    facts.update({key: getattr(meta, key) for key in SHOWN})
    return facts


def _locate(path: Path) -> tuple[Path | None, Path | None]:
    """The ONNX file and the SavedModel that ``path`` is or holds; anything else fails as ``--model`` would."""
    if path.is_dir() and not (path / SAVED_MODEL_PB).is_file():
        onnx_path, saved_model = path / ONNX_FILE, path / SAVED_MODEL_DIR
        if onnx_path.is_file() or saved_model.is_dir():
            return (onnx_path if onnx_path.is_file() else None), (saved_model if saved_model.is_dir() else None)
    ref = resolve_model(path, None)
    return (ref.path, None) if ref.runtime == "onnx" else (None, ref.path)


def _values(values: Any) -> list[dict[str, Any]]:
    """Name, dtype and shape (dimension names where dynamic) of graph inputs or outputs."""
    from onnx.helper import tensor_dtype_to_np_dtype

    out = []
    for value in values:
        tensor = value.type.tensor_type
        shape = [d.dim_param or d.dim_value for d in tensor.shape.dim]
        out.append({"name": value.name, "dtype": str(tensor_dtype_to_np_dtype(tensor.elem_type)), "shape": shape})
    return out


def render(facts: dict[str, Any]) -> str:
    """The human-readable report."""
    def signature(values: list[dict[str, Any]]) -> str:
        return ", ".join(f"{v['name']} {v['dtype']} [{', '.join(map(str, v['shape']))}]" for v in values)

    names = facts["feature_names"] or []
    meaning = facts.get("label_meaning") or {}
    lines = [
        f"model:     {facts['model']}" + "".join(f"\n  {k}: {facts[k]}" for k in ("onnx", "saved_model") if facts[k]),
        f"format:    {facts['format']}, opset {facts['opset']}, exported {facts['exported_at']}",
        f"input:     {signature(facts['inputs'])}",
        f"outputs:   {signature(facts['outputs'])}  (use them by name)",
        f"features:  {len(names)}, in this order: {', '.join(names)}",
    ]
    if facts.get("feature_aliases"):
        lines.append(f"aliases:   other names matched by the scorer for {len(facts['feature_aliases'])} features "
                     "(metadata key feature_aliases)")
    lines += [
        f"threshold: {facts['threshold']} (label = probability > threshold, applied in the graph)",
        f"label:     column {facts['label_column']!r}: 1 = {facts['positive_class']!r} ({meaning.get('1', '?')}), "
        f"0 = {facts['negative_class']!r} ({meaning.get('0', '?')})",
    ]
    for split, m in (facts.get("metrics") or {}).items():
        lines.append(f"metrics:   {split}: " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                                         for k, v in m.items()))
    lines.append("versions:  " + ", ".join(f"{k} {v}" for k, v in (facts.get("versions") or {}).items()))
    lines += [f"sha256:    {k.removesuffix('_sha256')} {v}" for k, v in facts["hashes"].items()]
    lines += [f"verified:  {check}" for check in facts["checks"]]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scoring.inspect",
                                     description="Show (and verify) what an exported model takes, gives and means.")
    parser.add_argument("model", nargs="?", default="artifacts/export",
                        help="export directory, ONNX file or SavedModel directory (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the facts as JSON")
    add_standard_options(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        facts = describe(args.model)
    except ToolkitError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    try:
        print(json.dumps(facts, indent=2) if args.json else render(facts))
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
