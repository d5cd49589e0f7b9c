"""The Open Inference Protocol's infer request and response (KServe v2 / Triton HTTP), JSON tensors and the
binary tensor data extension (``Inference-Header-Content-Length``, ``binary_data_size``, ``binary_data``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from contract.metadata import INPUT_NAME, OUTPUT_NAMES
from scoring.serve.decode import Number, cell_text, fast_numbers, parse_cells, read_json
from scoring.serve.errors import RequestError

HEADER_LENGTH = "inference-header-content-length"
#: Each output's datatype in the protocol's names, and its little-endian numpy type.
OUTPUT_TYPES = {"probability": ("FP32", "<f4"), "logit": ("FP32", "<f4"), "label": ("INT64", "<i8")}
assert set(OUTPUT_TYPES) == set(OUTPUT_NAMES)


@dataclass(frozen=True)
class InferRequest:
    """A decoded infer request: the features, and which outputs to answer how (name, as binary data)."""

    features: np.ndarray
    outputs: list[tuple[str, bool]]
    id: str | None = None


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """(JSON header, binary tensor data that follows it)."""
    if header_length is None:
        return body, b""
    try:
        size = int(header_length)
    except ValueError:
        size = -1
    if not 0 <= size <= len(body):
        raise RequestError(400, f"Inference-Header-Content-Length must be a byte count within the body's "
                                f"{len(body)} bytes, got {header_length!r}.")
    return body[:size], body[size:]


def decode_infer(body: bytes, header_length: str | None, n_features: int, feature_names: list[str]) -> InferRequest:
    """The request's one input, ``features`` (FP32, shape [N, n_features]), from JSON data or binary data."""
    header, binary = split_body(body, header_length)
    what = "the inference request header" if header_length is not None else "the request body"
    return read_json(header, lambda request: _request(request, binary, n_features, feature_names), what)


def _request(request: Any, binary: bytes, n_features: int, feature_names: list[str]) -> InferRequest:
    if not isinstance(request, dict):
        raise RequestError(400, "expected the inference request to be a JSON object with 'inputs'.")
    inputs = request.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
        raise RequestError(400, f"expected 'inputs' to hold one input, {INPUT_NAME!r} (FP32, shape [-1, {n_features}]).")
    tensor = inputs[0]
    if tensor.get("name") != INPUT_NAME:
        raise RequestError(400, f"unknown input {tensor.get('name')!r}; the model's one input is {INPUT_NAME!r}.")
    if tensor.get("datatype") != "FP32":
        raise RequestError(400, f"input {INPUT_NAME!r} has datatype {tensor.get('datatype')!r}; expected 'FP32'.")
    rows = _rows(tensor.get("shape"), n_features)
    parameters = _parameters(tensor, f"input {INPUT_NAME!r}")
    if "binary_data_size" in parameters:
        features = _binary_input(parameters["binary_data_size"], binary, rows, feature_names)
    else:
        if binary:
            raise RequestError(400, f"{len(binary)} bytes follow the inference header, but no input has "
                                    "'binary_data_size'.")
        features = _json_input(tensor.get("data"), rows, feature_names)
    return InferRequest(features, _requested_outputs(request), _id(request))


def _rows(shape: Any, n_features: int) -> int:
    if not (isinstance(shape, list) and len(shape) == 2 and all(_is_int(d) and int(d) >= 0 for d in shape)):
        raise RequestError(400, f"input {INPUT_NAME!r} has shape {_shown(shape)}; expected [N, {n_features}].")
    rows, width = (int(d) for d in shape)
    if width != n_features:
        raise RequestError(400, f"input {INPUT_NAME!r} has {width} columns (shape {_shown(shape)}); the model takes "
                                f"{n_features} features: shape [N, {n_features}].")
    return rows


def _is_int(value: Any) -> bool:
    if type(value) is int:
        return True
    return isinstance(value, Number) and value.lstrip("-").isdigit()  # read exactly, JSON numbers are their text


def _shown(value: Any) -> str:
    """A value from the request as it was written (its numbers are their text)."""
    if isinstance(value, list):
        return "[" + ", ".join(map(_shown, value)) + "]"
    return value if isinstance(value, Number) else json.dumps(value)


def _parameters(obj: dict[str, Any], where: str) -> dict[str, Any]:
    parameters = obj.get("parameters", {})
    if not isinstance(parameters, dict):
        raise RequestError(400, f"{where}: expected 'parameters' to be an object.")
    return parameters


def _binary_input(size: Any, binary: bytes, rows: int, feature_names: list[str]) -> np.ndarray:
    n_features = len(feature_names)
    expected = rows * n_features * 4
    if not _is_int(size) or int(size) != expected:
        raise RequestError(400, f"input {INPUT_NAME!r}: binary_data_size is {size}, but shape [{rows}, {n_features}] "
                                f"of FP32 takes {expected} bytes.")
    if len(binary) != expected:
        raise RequestError(400, f"input {INPUT_NAME!r}: binary_data_size says {expected} bytes, but {len(binary)} "
                                "follow the inference header.")
    x = np.frombuffer(binary, "<f4").astype(np.float32).reshape(rows, n_features)  # a copy, C-contiguous
    if x.size and not np.isfinite(x).all():
        row = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])
        column = int(np.flatnonzero(~np.isfinite(x[row]))[0])
        raise RequestError(400, f"row {row + 1}, column {column + 1} ({feature_names[column]!r}): expected a finite "
                                f"number, got {x[row, column]}.")
    return x


def _flatten(data: Any) -> list[Any]:
    """Triton accepts the data flat (row-major) or nested as the shape."""
    if not isinstance(data, list):
        raise RequestError(400, f"input {INPUT_NAME!r}: expected 'data' to be a list of numbers.")
    if not data or not isinstance(data[0], list):
        return data
    return [v for row in data for v in (row if isinstance(row, list) else [row])]


def _json_input(data: Any, rows: int, feature_names: list[str]) -> np.ndarray:
    n = len(feature_names)
    flat = _flatten(data)
    if len(flat) != rows * n:
        raise RequestError(400, f"input {INPUT_NAME!r}: shape [{rows}, {n}] needs {rows * n} values, 'data' has "
                                f"{len(flat)}.")
    if not rows:
        return np.empty((0, n), np.float32)
    fast = fast_numbers(flat)
    if fast is not None:
        return fast.reshape(rows, n)
    texts = [cell_text(flat[r * n + j], r + 1, feature_names[j]) for j in range(n) for r in range(rows)]
    return parse_cells(texts, rows, feature_names)


def _requested_outputs(request: dict[str, Any]) -> list[tuple[str, bool]]:
    default = _parameters(request, "the request").get("binary_data_output", False) is True
    outputs = request.get("outputs")
    if outputs is None:
        return [(name, default) for name in OUTPUT_NAMES]
    if not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs):
        raise RequestError(400, "expected 'outputs' to be a list of objects with a 'name'.")
    chosen = []
    for output in outputs:
        name = output.get("name")
        if name not in OUTPUT_TYPES:
            raise RequestError(400, f"unknown output {name!r}; the model's outputs are {', '.join(OUTPUT_NAMES)}.")
        parameters = _parameters(output, f"output {name!r}")
        if parameters.get("classification") not in (None, 0, "0"):
            raise RequestError(400, f"output {name!r}: the classification extension is not supported; ask for "
                                    "'label' and 'probability'.")
        chosen.append((name, parameters.get("binary_data", default) is True))
    return chosen


def _id(request: dict[str, Any]) -> str | None:
    value = request.get("id")
    return None if value is None else str(value)


def encode_infer(model: str, version: str, request: InferRequest, results: dict[str, np.ndarray]
                 ) -> tuple[bytes, dict[str, str]]:
    """The response body and its headers: JSON data, or a JSON header followed by the binary outputs."""
    outputs, blobs = [], []
    for name, binary in request.outputs:
        datatype, dtype = OUTPUT_TYPES[name]
        values = np.ascontiguousarray(results[name], dtype=dtype)
        entry: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(values.shape)}
        if binary:
            blob = values.tobytes()
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            # A float32 as a Python float is exact, and its repr reads back to the same float32.
            entry["data"] = values.tolist()
        outputs.append(entry)
    response: dict[str, Any] = {"model_name": model, "model_version": version, "outputs": outputs}
    if request.id is not None:
        response["id"] = request.id
    header = orjson.dumps(response)
    if not blobs:
        return header, {"content-type": "application/json"}
    return header + b"".join(blobs), {"content-type": "application/octet-stream",
                                      HEADER_LENGTH: str(len(header))}
