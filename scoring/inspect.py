"""``python -m scoring.inspect MODEL [--json]``: what a consumer of an exported model needs to know, verified."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from contract.artifacts import export_artifacts, read_sidecar, sha256_saved_model
from contract.cli import add_standard_options
from contract.errors import ToolkitError
from contract.metadata import INPUT_NAME, OUTPUT_NAMES, SIGNATURE_KEYS, Hashes, Metadata
from contract.verify import OnnxFile, verify_export_dir

#: What the report leaves out of the metadata: what the graph's signature shows, and the hashes (checked instead).
HIDDEN = {*SIGNATURE_KEYS, *(f.name for f in fields(Hashes))}
#: The SavedModel's outputs, as the serving signature declares them.
SAVED_MODEL_DTYPES = dict(zip(OUTPUT_NAMES, ("float32", "float32", "int64")))


@dataclass
class Inspection:
    """What ``main`` prints: where the artifacts are, their checked metadata, signature, hashes and the checks."""

    model: Path
    onnx: Path | None
    saved_model: Path | None
    meta: Metadata
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    hashes: Hashes
    checks: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The ``--json`` object: the paths, checks, hashes and signature, then the metadata's shown fields."""
        shown = {f.name: getattr(self.meta, f.name) for f in fields(Metadata) if f.name not in HIDDEN}
        return {"model": str(self.model), "onnx": _str(self.onnx), "saved_model": _str(self.saved_model),
                "checks": self.checks, "hashes": self.hashes.as_dict(), "inputs": self.inputs,
                "outputs": self.outputs, **shown}


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)


def describe(model: str | Path) -> Inspection:
    """Everything ``main`` prints; raises ModelError (as a scorer would) if the artifact fails a check."""
    path = Path(model)
    onnx_path, saved_model = export_artifacts(path)
    if onnx_path is None:
        assert saved_model is not None
        meta = Metadata.from_dict(read_sidecar(saved_model), None, saved_model)
        inputs = [{"name": INPUT_NAME, "dtype": "float32", "shape": ["batch", len(meta.feature_names)]}]
        outputs = [{"name": name, "dtype": dtype, "shape": ["batch"]} for name, dtype in SAVED_MODEL_DTYPES.items()]
        return Inspection(path, None, saved_model, meta, inputs, outputs,
                          Hashes(saved_model_sha256=sha256_saved_model(saved_model)),
                          ["the SavedModel's own threshold is checked when TensorFlow loads it "
                           "(python -m scoring.batch --runtime tf)"])
    onnx = OnnxFile.read(onnx_path)
    checks = []
    if saved_model is not None:
        hashes = verify_export_dir(path, onnx)
        checks.append("model.onnx and saved_model/ name each other's SHA-256 and agree on their metadata, "
                      "and every file of the export is the one its manifest.json lists")
    else:
        hashes = Hashes(onnx_sha256=onnx.sha256)
    meta = onnx.metadata(verify=True)
    checks.append("the ONNX graph applies the metadata's threshold")
    return Inspection(path, onnx_path, saved_model, meta, _values(onnx.proto.graph.input),
                      _values(onnx.proto.graph.output), hashes, checks)


def _values(values: Any) -> list[dict[str, Any]]:
    """Name, dtype and shape (dimension names where dynamic) of graph inputs or outputs."""
    from onnx.helper import tensor_dtype_to_np_dtype

    out = []
    for value in values:
        tensor = value.type.tensor_type
        shape = [d.dim_param or d.dim_value for d in tensor.shape.dim]
        out.append({"name": value.name, "dtype": str(tensor_dtype_to_np_dtype(tensor.elem_type)), "shape": shape})
    return out


def _signature(values: list[dict[str, Any]]) -> str:
    return ", ".join(f"{v['name']} {v['dtype']} [{', '.join(map(str, v['shape']))}]" for v in values)


def render(found: Inspection) -> str:
    """The human-readable report."""
    meta = found.meta
    meaning = meta.label_meaning or {}
    paths = "".join(f"\n  {name}: {value}" for name, value in (("onnx", found.onnx), ("saved_model", found.saved_model))
                    if value is not None)
    lines = [
        f"model:     {found.model}{paths}",
        f"format:    {meta.format}, opset {meta.opset}, exported {meta.exported_at}",
        f"family:    {_family(meta)}",
        f"input:     {_signature(found.inputs)}",
        f"outputs:   {_signature(found.outputs)}  (use them by name)",
        f"features:  {len(meta.feature_names)}, in this order: {', '.join(meta.feature_names)}",
    ]
    if meta.feature_aliases:
        lines.append(f"aliases:   other names matched by the scorer for {len(meta.feature_aliases)} features "
                     "(metadata key feature_aliases)")
    na = "".join(f", {v!r}" for v in meta.na_values or [])
    ids = ", ".join(map(repr, meta.id_columns or [])) or "a column named id"
    lines.append(f"reading:   missing = an empty field{na}; decimal mark {meta.decimal!r}; passed through "
                 f"by default: {ids} (metadata keys na_values, decimal, id_columns)")
    lines += [
        f"threshold: {meta.threshold} (label = probability > threshold, applied in the graph)",
        f"label:     column {meta.label_column!r}: 1 = {meta.positive_class!r} ({meaning.get('1', '?')}), "
        f"0 = {meta.negative_class!r} ({meaning.get('0', '?')})",
    ]
    for split, m in (meta.metrics or {}).items():
        lines.append(f"metrics:   {split}: " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                                         for k, v in m.items()))
    lines.append("versions:  " + ", ".join(f"{k} {v}" for k, v in (meta.versions or {}).items()))
    lines += [f"sha256:    {k.removesuffix('_sha256')} {v}" for k, v in found.hashes.as_dict().items()]
    lines += [f"verified:  {check}" for check in found.checks]
    return "\n".join(lines)


def _family(meta: Metadata) -> str:
    """The family and its shape as the metadata records them: ``FAMILY, layer widths 30-8-1, activation NAME``."""
    parts = [meta.family]
    if meta.layer_widths:
        parts.append("layer widths " + "-".join(map(str, meta.layer_widths)))
    if meta.activation:
        parts.append(f"activation {meta.activation}")
    return ", ".join(parts)


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
        found = describe(args.model)
    except ToolkitError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    try:
        print(json.dumps(found.as_dict(), indent=2) if args.json else render(found))
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
