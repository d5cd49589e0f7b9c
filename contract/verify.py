"""Verify on load: the two artifacts of an export are siblings, and each graph applies its metadata's threshold."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from contract.artifacts import (
    EXPORT_MANIFEST_FORMAT,
    MANIFEST,
    ONNX_FILE,
    SAVED_MODEL_DIR,
    ModelRef,
    changed_files,
    read_manifest,
    read_sidecar,
    sha256_saved_model,
    unlisted_files,
)
from contract.errors import ModelError, first_line
from contract.metadata import (
    EXPORT_FORMAT,
    INPUT_DTYPE,
    INPUT_NAME,
    OUTPUT_DTYPES,
    OUTPUT_NAMES,
    Hashes,
    Metadata,
    decode_onnx_props,
    shared_differences,
    sibling_hashes,
)
from contract.onnxproto import load_model, scalar
from contract.text import capped

#: Two thresholds are the same if they are the same float32 (the graph stores a float32).
_THRESHOLD_TOLERANCE = 1e-7
#: TensorProto.DataLocation.EXTERNAL: the tensor's bytes are in another file, next to the model.
_EXTERNAL = 1


@dataclass(frozen=True)
class OnnxFile:
    """An ONNX file read once: its bytes feed the hash, the one protobuf parse and the runtime's session."""

    path: Path
    data: bytes
    proto: Any

    @classmethod
    def read(cls, path: Path, verb: str = "read") -> OnnxFile:
        """Read and parse ``path`` (no runtime needed; contract.onnxproto says why not ``onnx.load_model``).
        ``verb`` names the step in the error: "load" where the file is being loaded to score."""
        try:
            data = path.read_bytes()
            return cls(path, data, load_model(data))
        except Exception as exc:  # protobuf's DecodeError, OSError, ...
            raise ModelError(f"Could not {verb} the ONNX model {path}: {first_line(exc)}") from None

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @cached_property
    def raw_metadata(self) -> dict[str, Any]:
        return decode_onnx_props({p.key: p.value for p in self.proto.metadata_props})

    @property
    def external_data(self) -> bool:
        """Whether weights live in files beside the model (a session must then be made from the path)."""
        return any(t.data_location == _EXTERNAL for t in self.proto.graph.initializer)

    def external_files(self) -> list[str]:
        """The files beside the model that hold its external weights (relative paths, each once); a location that
        leaves the model's folder is refused."""
        found: dict[str, None] = {}
        for tensor in self.proto.graph.initializer:
            if tensor.data_location != _EXTERNAL:
                continue
            location = next((e.value for e in tensor.external_data if e.key == "location"), "")
            if not location or Path(location).is_absolute() or ".." in Path(location).parts:
                raise ModelError(f"{self.path}: the weights of {tensor.name!r} are kept at {location!r}, outside the "
                                 "model's folder; expected a file beside it.")
            found[location] = None
        return list(found)

    def width(self) -> int | None:
        """The input's fixed feature count, if the graph has one input of rank 2 with a known width."""
        inputs = self.proto.graph.input
        dims = inputs[0].type.tensor_type.shape.dim if len(inputs) == 1 else []
        return dims[1].dim_value if len(dims) == 2 and dims[1].dim_value else None

    def metadata(self, verify: bool = True) -> Metadata:
        """The checked metadata, and (``verify``) the proof that the graph applies its threshold."""
        check_signature(*onnx_signature(self.proto), self.path)
        meta = Metadata.from_dict(self.raw_metadata, self.width(), self.path)
        if verify:
            check_threshold(onnx_threshold(self.proto), meta.threshold, self.path)
        return meta


def read_onnx(path: Path) -> Any:
    """The ONNX model's protobuf."""
    return OnnxFile.read(path).proto


def verify_export_dir(directory: Path, onnx: OnnxFile | None = None) -> Hashes:
    """Both artifacts of ``directory`` name each other's SHA-256 and agree on their metadata, and every file of the
    export is the one its manifest lists; returns the two artifacts' hashes.

    ``onnx``: the export's ONNX file, if the caller has read it already.
    """
    onnx_path, saved_model = directory / ONNX_FILE, directory / SAVED_MODEL_DIR
    if not (onnx_path.is_file() and saved_model.is_dir()):
        check_manifest(directory)  # says which listed artifact is missing (or that this is no export folder)
        return Hashes()
    if onnx is None or onnx.path != onnx_path:
        onnx = OnnxFile.read(onnx_path)
    onnx_meta, sidecar = onnx.raw_metadata, read_sidecar(saved_model)
    hashes = Hashes(onnx_sha256=onnx.sha256, saved_model_sha256=sha256_saved_model(saved_model))
    named = sibling_hashes(onnx_meta, sidecar)
    problems = []
    if named.onnx_sha256 != hashes.onnx_sha256:
        problems.append(f"{saved_model}'s metadata names an ONNX file with SHA-256 {_short(named.onnx_sha256)}, "
                        f"but {onnx_path} has {_short(hashes.onnx_sha256)}")
    if named.saved_model_sha256 != hashes.saved_model_sha256:
        problems.append(f"{onnx_path}'s metadata names a SavedModel with SHA-256 {_short(named.saved_model_sha256)}, "
                        f"but {saved_model} has {_short(hashes.saved_model_sha256)}")
    differ = shared_differences(onnx_meta, sidecar)
    if differ:
        problems.append(f"their metadata differ in {', '.join(differ)}")
    if problems:
        raise ModelError(f"{onnx_path} and {saved_model} are not from the same export: {'; '.join(problems)}. "
                         "Re-export both with `python -m export`, or pass the one you trust as --model.")
    check_manifest(directory)
    return hashes


def check_manifest(directory: Path) -> None:
    """Every file the export's manifest lists is there, unchanged (the SavedModel's assets/metadata.json too, which
    neither sibling hash covers), and nothing the runtimes load is unlisted (a file added under saved_model/)."""
    hint = "Re-export it with `python -m export`, or pass one artifact as --model with --no-verify."
    try:
        fmt, listed = read_manifest(directory)
    except FileNotFoundError:
        raise ModelError(f"{directory} has no {MANIFEST} (the list of the export's files and their SHA-256, written by "
                         f"`python -m export` since format {EXPORT_FORMAT}). {hint}") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"Could not read {directory / MANIFEST}: {first_line(exc)}. {hint}") from None
    if fmt != EXPORT_MANIFEST_FORMAT:
        raise ModelError(f"Expected {directory / MANIFEST} of format {EXPORT_MANIFEST_FORMAT!r}, got {fmt!r}. {hint}")
    changed = changed_files(directory, listed)
    if changed:
        missing = [name for name in changed if not (directory / name).is_file()]
        what = (f"{capped(missing)} {'is' if len(missing) == 1 else 'are'} missing" if missing else
                f"{capped(changed)} {'is not the file' if len(changed) == 1 else 'are not the files'} the export wrote "
                "(SHA-256 differs)")
        raise ModelError(f"{directory}: {what}, by its {MANIFEST}. {hint}")
    loaded = [name for name in unlisted_files(directory, listed, limit=1_000)
              if name == ONNX_FILE or name.startswith(f"{SAVED_MODEL_DIR}/")]
    if loaded:
        raise ModelError(f"{directory} holds {capped(loaded)}, which its {MANIFEST} does not list: not the export's "
                         f"own. {hint}")


def read_metadata(ref: ModelRef, verify: bool = True, onnx: OnnxFile | None = None) -> Metadata:
    """The checked metadata of ``ref`` without loading a runtime (no TensorFlow): what a client that only plans
    needs. The SavedModel's own threshold variable is checked where TensorFlow loads it."""
    if ref.runtime == "onnx" and onnx is None:
        onnx = OnnxFile.read(ref.path)
    if verify and ref.export_dir is not None:
        verify_export_dir(ref.export_dir, onnx)
    if ref.runtime == "tf":
        return Metadata.from_dict(read_sidecar(ref.path), None, ref.path)
    assert onnx is not None
    return onnx.metadata(verify)


#: Ops that pass a value on unchanged in kind (a label cast to int64 is still the comparison's result).
_PASS_THROUGH = ("Cast", "Identity")


def onnx_threshold(model: Any) -> float | None:
    """The threshold the graph applies: followed from the ``label`` output back (through Cast/Identity) to the
    ``Greater(probability, c)`` that makes it, and that constant's value (None if the graph is not built so)."""
    producers = {out: node for node in model.graph.node for out in node.output}
    node = producers.get(OUTPUT_NAMES[2])
    while node is not None and node.op_type in _PASS_THROUGH:
        node = producers.get(node.input[0])
    if node is None or node.op_type != "Greater" or list(node.input[:1]) != [OUTPUT_NAMES[0]]:
        return None
    return _constant(model, producers, node.input[1])


def _constant(model: Any, producers: dict[str, Any], name: str) -> float | None:
    """The scalar value of ``name``: an initializer, or a Constant node (through Identity nodes)."""
    for _ in range(len(producers) + 1):  # a chain of Identity nodes, never a cycle
        initializer = next((t for t in model.graph.initializer if t.name == name), None)
        if initializer is not None:
            return scalar(initializer)
        node = producers.get(name)
        if node is None:
            return None
        if node.op_type == "Constant":  # its value as a tensor, or (other exporters) as a plain float
            attribute = next((a for a in node.attribute if a.name in ("value", "value_float")), None)
            if attribute is None:
                return None
            return scalar(attribute.t) if attribute.name == "value" else float(attribute.f)
        if node.op_type != "Identity":
            return None
        name = node.input[0]
    return None


def check_threshold(graph: float | None, metadata: float, path: Path) -> None:
    """The graph's own threshold must be the metadata's: the README promises ``label`` applies it."""
    if graph is None:
        raise ModelError(f"Could not find the threshold in {path}'s graph (a Greater node on 'probability' that makes "
                         "'label'); was it made by `python -m export`? Pass --no-verify to score anyway.")
    if not (math.isfinite(graph) and 0.0 <= graph <= 1.0):
        raise ModelError(f"{path}: the graph labels rows with probability > {graph:.9g}; a threshold must be a number "
                         "in [0, 1]. The artifact is damaged: re-export it.")
    if abs(graph - metadata) > _THRESHOLD_TOLERANCE:
        raise ModelError(f"{path}: the graph labels rows with probability > {graph:.9g}, but its metadata says the "
                         f"threshold is {metadata:.9g}; the artifact is inconsistent. Re-export it.")


def check_saved_model_threshold(loaded: Any, metadata: float, path: Path) -> None:
    """The SavedModel's own threshold variable (``serving.classifier.threshold``) must be the metadata's."""
    variable = getattr(getattr(loaded, "classifier", None), "threshold", None)
    check_threshold(None if variable is None else float(variable.numpy()), metadata, path)


def _short(digest: object) -> str:
    return f"{digest[:12]}..." if isinstance(digest, str) else repr(digest)


# ----------------------------------------------------------------------------------------------
# What the model takes and gives: by name, dtype and shape, and what it does with the threshold

#: TensorProto.DataType numbers as numpy's dtype names (the ones a model of ours, or a near miss, may use).
_ONNX_TYPES = {1: "float32", 2: "uint8", 3: "int8", 6: "int32", 7: "int64", 9: "bool", 10: "float16", 11: "float64"}
Spec = tuple[str, tuple[int | None, ...]]  # (dtype name, shape with None for a dynamic dimension)


def onnx_signature(model: Any) -> tuple[dict[str, Spec], dict[str, Spec]]:
    """The graph's inputs and outputs as {name: (dtype, shape)} (initializers listed as inputs left out)."""
    weights = {t.name for t in model.graph.initializer}

    def spec(value: Any) -> Spec:
        kind = value.type.tensor_type
        dims = tuple(d.dim_value if d.HasField("dim_value") else None for d in kind.shape.dim)
        return _ONNX_TYPES.get(kind.elem_type, f"type {kind.elem_type}"), dims

    return ({v.name: spec(v) for v in model.graph.input if v.name not in weights},
            {v.name: spec(v) for v in model.graph.output})


def check_signature(inputs: Mapping[str, Spec], outputs: Mapping[str, Spec], path: Path) -> None:
    """One input ``features`` (float32, [batch, n_features]); outputs probability, logit (float32) and label (int64),
    each [batch]: one value per input row. Every difference is listed in one message."""
    problems = []
    if list(inputs) != [INPUT_NAME]:
        problems.append(f"inputs {capped(list(inputs))}, expected one named {INPUT_NAME!r}")
    elif inputs[INPUT_NAME][0] != INPUT_DTYPE or len(inputs[INPUT_NAME][1]) != 2:
        problems.append(f"input {INPUT_NAME!r} {_shown(inputs[INPUT_NAME])}, expected {INPUT_DTYPE} [batch, n_features]")
    for name, dtype in OUTPUT_DTYPES.items():
        if name not in outputs:
            problems.append(f"no output {name!r} (it has {capped(sorted(outputs))})")
        elif outputs[name][0] != dtype or len(outputs[name][1]) != 1:
            problems.append(f"output {name!r} {_shown(outputs[name])}, expected {dtype} [batch]")
    if problems:
        raise ModelError(f"{path} is not a model this scorer can run: {'; '.join(problems)}. Export it with "
                         "`python -m export`.")


def _shown(spec: Spec) -> str:
    dtype, shape = spec
    return f"{dtype} [{', '.join('?' if d is None else str(d) for d in shape)}]"


def check_outputs(outputs: Mapping[str, np.ndarray], rows: int, path: Path) -> None:
    """Every output holds one value per input row, of its promised dtype (a model that drops or adds rows would
    shift every score after it onto the wrong row)."""
    for name, value in outputs.items():
        dtype = OUTPUT_DTYPES.get(name)
        if value.shape != (rows,) or (dtype is not None and value.dtype != dtype):
            raise ModelError(f"{path}: the model gave {name} as {value.dtype} of shape {list(value.shape)} for "
                             f"{rows} input rows; expected {dtype} of shape [{rows}], one value per row. The "
                             "artifact is damaged or not ours: re-export it.")


#: Probe values along each feature's axis (the other features 0): the probability moves monotonically along it.
_PROBES = np.concatenate([-np.logspace(6, -3, 10), [0.0], np.logspace(-3, 6, 10)])
_MOST_AXES = 32
_HALVINGS = 60


def check_labels(predict: Callable[[np.ndarray], Mapping[str, np.ndarray]], width: int, threshold: float,
                 path: Path) -> None:
    """Run the model on probe rows and check what it gives: every output one value per row, of its dtype, and
    ``label == probability > threshold``, also on rows found by bisection just below and just above the threshold.
    This proves, whatever the graph looks like, that the label the model gives is the metadata's threshold applied."""
    axes = np.unique(np.linspace(0, width - 1, min(width, _MOST_AXES)).astype(int))
    probability = _probe(predict, np.repeat(_PROBES[None, :], len(axes), axis=0), axes, width, threshold, path)
    above = probability > np.float32(threshold)
    crossing = above[:, :-1] != above[:, 1:]
    rays = np.flatnonzero(crossing.any(axis=1))
    first = crossing[rays].argmax(axis=1)
    lo, hi = _PROBES[first], _PROBES[first + 1]
    lo_above = above[rays, first]
    for _ in range(_HALVINGS):
        mid = (lo + hi) / 2
        mid_above = _probe(predict, mid[:, None], axes[rays], width, threshold, path)[:, 0] > np.float32(threshold)
        lo, hi = np.where(mid_above == lo_above, mid, lo), np.where(mid_above == lo_above, hi, mid)


def _probe(predict: Callable[[np.ndarray], Mapping[str, np.ndarray]], values: np.ndarray, axes: np.ndarray,
           width: int, threshold: float, path: Path) -> np.ndarray:
    """Rows with ``values[i, k]`` at feature ``axes[i]`` (0 elsewhere); their probabilities, as [axes, values]."""
    rays, count = values.shape
    x = np.zeros((rays, count, width), np.float32)
    x[np.arange(rays)[:, None], np.arange(count)[None, :], axes[:, None]] = values
    rows = x.reshape(-1, width)
    out = predict(rows)
    check_outputs(out, len(rows), path)
    probability, label = out["probability"], out["label"]
    wrong = np.flatnonzero(label != (probability > np.float32(threshold)).astype(label.dtype))
    if wrong.size:
        p = float(probability[wrong[0]])
        raise ModelError(f"{path}: the model labels a row of probability {p:.9g} as {int(label[wrong[0]])}, but its "
                         f"metadata's threshold is {threshold:.9g}: its label does not apply that threshold. The "
                         "artifact is inconsistent: re-export it.")
    return probability.reshape(rays, count)
