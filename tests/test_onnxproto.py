"""Tests for contract.onnxproto: the ONNX protobuf read without the onnx package's helpers, and its scalars."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from contract.onnxproto import load_model, onnx_ml_pb2, scalar


def test_load_model_parses_what_onnx_load_parses_into_the_same_class(export_dir) -> None:
    data = (export_dir / "model.onnx").read_bytes()
    ours = load_model(data)
    assert type(ours) is onnx.ModelProto
    assert ours == onnx.load_model_from_string(data)
    onnx.checker.check_model(ours)


def test_load_model_of_damaged_bytes_raises() -> None:
    with pytest.raises(Exception, match="(?i)error parsing|decode"):
        load_model(b"\x0a\xff\xff\xff\xff\x0f")


def test_the_generated_module_loads_without_the_onnx_package_and_onnx_imports_after_it(export_dir) -> None:
    code = ("import sys\n"
            "from contract.onnxproto import load_model, onnx_ml_pb2\n"
            f"model = load_model(open({str(export_dir / 'model.onnx')!r}, 'rb').read())\n"
            "assert 'onnx' not in sys.modules and 'ml_dtypes' not in sys.modules, sorted(sys.modules)\n"
            "import onnx\n"
            "assert type(model) is onnx.ModelProto and onnx_ml_pb2().TensorProto is onnx.TensorProto\n"
            "onnx.checker.check_model(model)\n"
            "print(model.graph.input[0].name)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "features"


def test_with_onnx_imported_first_its_own_module_is_used() -> None:
    assert onnx_ml_pb2() is onnx.onnx_ml_pb2


def test_without_onnx_imported_the_generated_module_loads_once_under_a_private_name(monkeypatch) -> None:
    monkeypatch.delitem(sys.modules, "onnx.onnx_ml_pb2")  # as in a scorer, which never imports onnx
    monkeypatch.setitem(sys.modules, "contract._onnx_ml_pb2", None)  # (restored to absent afterwards)
    module = onnx_ml_pb2()
    assert module.__name__ == "contract._onnx_ml_pb2" and sys.modules["contract._onnx_ml_pb2"] is module
    assert onnx_ml_pb2() is module
    assert module.ModelProto is onnx.ModelProto  # protobuf's pool keeps one class per message


def test_without_the_onnx_package_the_error_says_what_to_install(monkeypatch) -> None:
    import importlib.util

    monkeypatch.delitem(sys.modules, "onnx.onnx_ml_pb2")
    monkeypatch.setitem(sys.modules, "contract._onnx_ml_pb2", None)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match=r"^No module named 'onnx': install the project's dependencies"):
        onnx_ml_pb2()


finite = st.floats(allow_nan=False, allow_infinity=False, width=32)


@settings(max_examples=200, deadline=None)
@given(value=finite, dtype=st.sampled_from([np.float32, np.float64, np.float16]), raw=st.booleans())
def test_scalar_reads_what_numpy_helper_reads(value: float, dtype: type, raw: bool) -> None:
    with np.errstate(over="ignore"):  # float16 overflows to inf, which both readers must agree on
        array = np.array([value], dtype=np.float64).astype(dtype)
    if raw:
        tensor = numpy_helper.from_array(array, "t")
    else:
        kind = {np.float32: TensorProto.FLOAT, np.float64: TensorProto.DOUBLE, np.float16: TensorProto.FLOAT16}
        tensor = helper.make_tensor("t", kind[dtype], [1], array, raw=False)
    assert scalar(tensor) == float(numpy_helper.to_array(tensor).reshape(-1)[0])


@pytest.mark.parametrize("tensor", [
    numpy_helper.from_array(np.array([1, 2], dtype=np.float32), "two"),
    numpy_helper.from_array(np.array([], dtype=np.float32), "none"),
    numpy_helper.from_array(np.array([1], dtype=np.int64), "int"),
    helper.make_tensor("listed", TensorProto.FLOAT, [2], [0.25, 0.5]),
], ids=["two values", "empty", "int64", "two listed values"])
def test_scalar_of_anything_but_one_float_is_none(tensor) -> None:
    assert scalar(tensor) is None
