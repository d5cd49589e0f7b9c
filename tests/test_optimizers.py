"""Tests for model.optimizers: SGD and Adam apply the textbook updates, reset forgets, bad names are refused."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from model.optimizers import ADAM_BETA_1, ADAM_BETA_2, ADAM_EPSILON, SGD, Adam, make_optimizer

START = np.array([[1.0], [-2.0], [0.5]], np.float32)
# Gradients of very different sizes and signs: Adam's first steps move each weight by about lr anyway.
GRADIENTS = [np.array([[1e-3], [10.0], [-5.0]], np.float32), np.array([[2e-3], [-4.0], [-1.0]], np.float32)]


def adam_reference(w: np.ndarray, gradients: list[np.ndarray], lr: float) -> np.ndarray:
    """Kingma and Ba's Adam in float64, with epsilon added to sqrt(v) as TensorFlow and Keras do."""
    w, m, v = w.astype(np.float64), np.zeros(w.shape), np.zeros(w.shape)
    for t, g in enumerate(gradients, start=1):
        m = ADAM_BETA_1 * m + (1 - ADAM_BETA_1) * g
        v = ADAM_BETA_2 * v + (1 - ADAM_BETA_2) * g * g
        step = lr * np.sqrt(1 - ADAM_BETA_2**t) / (1 - ADAM_BETA_1**t)
        w = w - step * m / (np.sqrt(v) + ADAM_EPSILON)
    return w


def test_sgd_subtracts_learning_rate_times_gradient() -> None:
    w = tf.Variable(START)
    SGD([w], 0.25).apply([tf.constant(GRADIENTS[0])])
    np.testing.assert_allclose(w.numpy(), START - 0.25 * GRADIENTS[0], rtol=1e-6)


def test_adam_matches_the_reference_update() -> None:
    w = tf.Variable(START)
    adam = Adam([w], 0.1)
    for g in GRADIENTS:
        adam.apply([tf.constant(g)])
    np.testing.assert_allclose(w.numpy(), adam_reference(START, GRADIENTS, 0.1), rtol=1e-6, atol=1e-7)
    assert adam.steps.numpy() == 2


def test_adam_reset_forgets_moments_and_steps() -> None:
    fresh, reused = tf.Variable(START), tf.Variable(START)
    Adam([fresh], 0.1).apply([tf.constant(GRADIENTS[1])])
    adam = Adam([reused], 0.1)
    adam.apply([tf.constant(GRADIENTS[0])])
    adam.reset()
    reused.assign(START)
    adam.apply([tf.constant(GRADIENTS[1])])
    assert reused.numpy().tobytes() == fresh.numpy().tobytes()


def test_make_optimizer_picks_by_name_and_lists_the_valid_ones() -> None:
    w = tf.Variable(START)
    assert isinstance(make_optimizer("sgd", [w], 0.1), SGD)
    assert isinstance(make_optimizer("adam", [w], 0.1), Adam)
    with pytest.raises(ValueError, match=r"optimizer must be one of 'adam', 'sgd', got 'adamw'\."):
        make_optimizer("adamw", [w], 0.1)


def test_adam_constants_are_keras_defaults() -> None:
    import keras

    defaults = keras.optimizers.Adam()
    assert (ADAM_BETA_1, ADAM_BETA_2, ADAM_EPSILON) == (defaults.beta_1, defaults.beta_2, defaults.epsilon)
