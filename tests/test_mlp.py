"""Tests for model.mlp: Glorot-uniform weights from the seed alone, and the forward pass against NumPy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from model.mlp import MLP


def test_kernels_start_glorot_uniform_from_the_seed_and_biases_at_zero() -> None:
    net = MLP(30, (32, 16), "relu", seed=7)
    assert [k.shape.as_list() for k in net.kernels] == [[30, 32], [32, 16], [16, 1]]
    assert [b.shape.as_list() for b in net.biases] == [[32], [16], [1]]
    for kernel in net.kernels:
        fan_in, fan_out = kernel.shape
        limit = math.sqrt(6 / (fan_in + fan_out))
        values = kernel.numpy()
        assert np.abs(values).max() <= limit and np.abs(values).max() > 0.9 * limit
        assert abs(values.std() - limit / math.sqrt(3)) < 0.15 * limit  # uniform on [-a, a] has std a / sqrt(3)
    assert all(not b.numpy().any() for b in net.biases)


def test_the_same_seed_gives_the_same_bits_and_reset_restores_them() -> None:
    a, b, c = MLP(5, (4, 3), "tanh", seed=1), MLP(5, (4, 3), "tanh", seed=1), MLP(5, (4, 3), "tanh", seed=2)
    assert all(x.numpy().tobytes() == y.numpy().tobytes() for x, y in zip(a.variables, b.variables))
    assert a.kernels[0].numpy().tobytes() != c.kernels[0].numpy().tobytes()
    a.kernels[1].assign_add(np.ones([4, 3], np.float32))
    a.biases[0].assign_add(np.ones([4], np.float32))
    a.reset(1)
    assert all(x.numpy().tobytes() == y.numpy().tobytes() for x, y in zip(a.variables, b.variables))


@pytest.mark.parametrize("activation, f", [("relu", lambda z: np.maximum(z, 0)), ("tanh", np.tanh)])
def test_forward_pass_is_dense_layers_with_the_activation_between_and_a_linear_logit(activation: str, f) -> None:
    rng = np.random.default_rng(3)
    net = MLP(4, (5, 3), activation, seed=4)
    for bias in net.biases:  # non-zero biases, so a forgotten bias shows
        bias.assign(rng.normal(size=bias.shape).astype(np.float32))
    x = rng.normal(size=(9, 4)).astype(np.float32)
    (k0, k1, k2), (b0, b1, b2) = ([v.numpy().astype(np.float64) for v in vs] for vs in (net.kernels, net.biases))
    expected = (f(f(x @ k0 + b0) @ k1 + b1) @ k2 + b2)[:, 0]
    logits = net(x).numpy()
    assert logits.shape == (9,) and logits.dtype == np.float32
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-6)
    assert net.spec.hidden == (5, 3) and net.spec.activation == activation
