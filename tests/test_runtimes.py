"""Tests for scoring.runtimes: both runtimes load the artifacts and agree; the registry rejects unknown names."""

from __future__ import annotations

import numpy as np
import pytest

from contract.artifacts import ModelRef
from contract.errors import ModelError
from model.data import load_dataset
from model.wdbc import FEATURE_NAMES
from scoring.runtimes import load_runtime


def test_runtime_reads_names_and_threshold_from_metadata(runtime) -> None:
    assert runtime.feature_names == list(FEATURE_NAMES)
    assert 0 < runtime.threshold < 1


def test_runtimes_agree_on_wdbc(loaded_runtimes) -> None:
    x = load_dataset().x
    a, b = (loaded_runtimes[n].predict(x) for n in ("onnx", "tf"))
    np.testing.assert_array_equal(a["label"], b["label"])
    np.testing.assert_allclose(a["probability"], b["probability"], atol=1e-6, rtol=0)
    assert a["probability"].dtype == np.float32 and a["label"].dtype == np.int64


def test_unknown_runtime_lists_the_valid_ones(export_dir) -> None:
    with pytest.raises(ModelError, match=r"Unknown runtime 'torch'; expected one of \['onnx', 'tf'\]"):
        load_runtime(ModelRef("torch", export_dir))
