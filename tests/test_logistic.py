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


def test_outputs_in_blocks_equal_one_call_bitwise_including_a_short_last_block() -> None:
    from model.logistic import Classifier

    rng = np.random.default_rng(5)
    x = (rng.normal(size=(1_001, 6)) * [1, 10, 100, 0.1, 5, 2]).astype(np.float32)
    classifier = Classifier(6, seed=3, threshold=0.4)
    classifier.normalize.adapt(x)
    whole = {name: t.numpy() for name, t in classifier.outputs(x).items()}
    blocks = classifier.outputs_in_blocks(x, rows=100)  # 10 blocks of 100 and one of 1
    assert set(blocks) == {"probability", "logit", "label"}
    for name, values in whole.items():
        assert blocks[name].dtype == values.dtype and blocks[name].tobytes() == values.tobytes(), name
    assert classifier.outputs_in_blocks(x[:0])["label"].shape == (0,)
