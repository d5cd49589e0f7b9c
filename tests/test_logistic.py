"""Tests for model.logistic: Normalize's statistics are exactly TensorFlow's reduce_mean and reduce_std."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from model.logistic import Normalize


def test_adapt_matches_reduce_std_bitwise_and_keeps_constant_columns() -> None:
    rng = np.random.default_rng(4)
    x = (rng.normal(size=(5_003, 4)) * [1e-3, 1.0, 250.0, 0.0] + [7.0, -3.0, 1e4, 2.5]).astype(np.float32)
    normalize = Normalize(4)
    normalize.adapt(x)
    assert normalize.mean.numpy().tobytes() == tf.reduce_mean(x, axis=0).numpy().tobytes()
    expected_std = tf.math.reduce_std(x, axis=0).numpy()
    assert normalize.std.numpy()[:3].tobytes() == expected_std[:3].tobytes()
    assert normalize.std.numpy()[3] == 1.0  # a constant column is left unscaled, not divided by zero
