"""export_onnx(...): tf2onnx conversion of the same concrete function, checked and stamped with metadata."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import onnx
import tf2onnx

from contract.artifacts import BATCH_DIM, DEFAULT_OPSET
from contract.errors import first_line
from contract.metadata import Metadata
from export.errors import ExportError
from export.signature import INPUT_NAME, OUTPUT_NAMES, ServingModule


def export_onnx(module: ServingModule, path: Path, metadata: Metadata, opset: int = DEFAULT_OPSET) -> Path:
    """Convert ``module.serve`` with tf2onnx, check the graph, attach metadata and write ``path``."""
    model = convert(module, opset)
    check_graph(model, opset)
    name_batch_dimension(model)
    for key, value in metadata.as_onnx_props().items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    n = module.classifier.n_features
    model.doc_string = (f"Binary classifier ({metadata.family}): {INPUT_NAME}[{BATCH_DIM},{n}] float32 -> probability, "
                        f"logit, label (1 = {metadata.positive_class!r}); see metadata_props.")
    onnx.checker.check_model(model, full_check=True)
    onnx.save_model(model, str(path))
    return path


def convert(module: ServingModule, opset: int) -> onnx.ModelProto:
    """tf2onnx's from_function on the tf.function whose concrete function the SavedModel serves."""
    try:
        with _quiet_tf2onnx():
            model, _ = tf2onnx.convert.from_function(module.serve, input_signature=module.input_signature, opset=opset)
    except Exception as exc:  # tf2onnx raises bare Exceptions/ValueErrors for unsupported opsets and graphs.
        raise ExportError(f"tf2onnx could not convert the serving function at opset {opset}: {first_line(exc)}") from None
    return model


def check_graph(model: onnx.ModelProto, opset: int) -> None:
    """tf2onnx logs failures and carries on, so check the result: opset, one input, named outputs, known ops."""
    problems = []
    opsets = {o.domain: o.version for o in model.opset_import}
    if opsets.get("", opsets.get("ai.onnx")) != opset:
        problems.append(f"expected opset {opset}, got {opsets}")
    inputs = [i.name for i in model.graph.input]
    if inputs != [INPUT_NAME]:
        problems.append(f"expected exactly one graph input {INPUT_NAME!r}, got {inputs} (a captured tf.constant?)")
    outputs = sorted(o.name for o in model.graph.output)
    if outputs != sorted(OUTPUT_NAMES):
        problems.append(f"expected outputs {sorted(OUTPUT_NAMES)}, got {outputs}")
    unknown = sorted({f"{n.domain or 'ai.onnx'}:{n.op_type}" for n in model.graph.node
                      if not onnx.defs.has(n.op_type, n.domain or "")})
    if unknown:
        problems.append(f"ops left unconverted or not in ONNX: {', '.join(unknown[:5])}")
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        problems.append(f"onnx.checker: {first_line(exc)}")
    if problems:
        raise ExportError("The converted ONNX graph is invalid: " + "; ".join(problems))


def name_batch_dimension(model: onnx.ModelProto) -> None:
    """Give the dynamic row dimension one readable name everywhere (tf2onnx writes ``unk__15``, ``unk__16``, ...)."""
    generated = {dim.dim_param for value in (*model.graph.input, *model.graph.output)
                 for dim in value.type.tensor_type.shape.dim[:1] if dim.dim_param}
    for value in (*model.graph.input, *model.graph.output, *model.graph.value_info):
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param in generated:
                dim.dim_param = BATCH_DIM


@contextlib.contextmanager
def _quiet_tf2onnx() -> Iterator[None]:
    """tf2onnx logs per-op tracebacks and carries on; check_graph reports what matters in one line."""
    logger = logging.getLogger("tf2onnx")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)
