"""Read an ONNX file's protobuf with the ``onnx`` package's generated classes only, not its helpers.

``import onnx`` takes about 1 s (0.8 s of it loading ml_dtypes, which its helpers import): most of a scoring
CLI's start-up, for a check that only needs to walk the graph. The generated module ``onnx/onnx_ml_pb2.py``
depends on protobuf alone, so it is loaded by itself under a private name. Its descriptors go to protobuf's
default pool, which keeps one class per message: ``onnx.ModelProto`` is the same class either way.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import Any

import numpy as np

_MODULE = "contract._onnx_ml_pb2"
_ONNX_MODULE = "onnx.onnx_ml_pb2"
#: TensorProto.DataType -> numpy dtype, for the scalar constants the checks read.
_DTYPES = {1: np.float32, 10: np.float16, 11: np.float64}


def onnx_ml_pb2() -> ModuleType:
    """The generated protobuf module of ONNX, imported without ``onnx/__init__.py``."""
    module = sys.modules.get(_ONNX_MODULE) or sys.modules.get(_MODULE)
    if module is not None:
        return module
    package = importlib.util.find_spec("onnx")  # locates the package without running its __init__
    if package is None or not package.submodule_search_locations:
        raise ModuleNotFoundError("No module named 'onnx': install the project's dependencies (pip install -e .)")
    path = f"{next(iter(package.submodule_search_locations))}/onnx_ml_pb2.py"
    spec = importlib.util.spec_from_file_location(_MODULE, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[_MODULE] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_MODULE]
        raise
    return module


def load_model(data: bytes) -> Any:
    """An ``onnx.ModelProto`` parsed from the bytes of a .onnx file (raises protobuf's DecodeError if damaged)."""
    model = onnx_ml_pb2().ModelProto()
    model.ParseFromString(data)
    return model


def scalar(tensor: Any) -> float | None:
    """The value of a one-element float TensorProto, or None if it is not one (another type or size)."""
    dtype = _DTYPES.get(tensor.data_type)
    if dtype is None:
        return None
    if tensor.raw_data:
        values = np.frombuffer(tensor.raw_data, dtype=np.dtype(dtype).newbyteorder("<"))
    elif dtype is np.float16:  # stored as bit patterns in int32_data
        values = np.asarray(tensor.int32_data, dtype=np.uint16).view(np.float16)
    else:  # float32 values are held exactly by float_data's Python floats, float64 ones by double_data's
        values = np.asarray(tensor.double_data if dtype is np.float64 else tensor.float_data)
    return float(values[0]) if values.size == 1 else None
