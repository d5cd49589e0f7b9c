"""The update rules the compiled loop can use: the tutorial's plain SGD, and Adam for large batches."""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

#: Keras' Adam defaults (beta_1, beta_2, epsilon).
ADAM_BETA_1, ADAM_BETA_2, ADAM_EPSILON = 0.9, 0.999, 1e-7


class SGD:
    """``w -= learning_rate * gradient``: the tutorial's rule; its only state is the step size."""

    def __init__(self, variables: Sequence[tf.Variable], learning_rate: float) -> None:
        self.variables = list(variables)
        self.initial_rate = learning_rate
        # A Variable (float32, as the constant it replaces), so a stopping rule can cut the step in the graph.
        self.learning_rate = tf.Variable(learning_rate, trainable=False, dtype=tf.float32, name="learning_rate")

    def reset(self) -> None:
        """Back to the initial step size (SGD keeps no other state)."""
        self.learning_rate.assign(self.initial_rate)

    def apply(self, gradients: Sequence[tf.Tensor]) -> None:
        for grad, var in zip(gradients, self.variables):
            var.assign_sub(self.learning_rate * grad)


class Adam:
    """Adam (Kingma and Ba, 2015) through TensorFlow's fused ``ResourceApplyAdam`` kernel.

    A per-weight step size keeps large batches (few steps per epoch) converging where plain SGD's
    one learning rate must be small enough for the steepest direction of correlated features.
    """

    def __init__(self, variables: Sequence[tf.Variable], learning_rate: float) -> None:
        self.variables = list(variables)
        self.initial_rate = learning_rate
        self.learning_rate = tf.Variable(learning_rate, trainable=False, dtype=tf.float32, name="learning_rate")
        self.m = [tf.Variable(tf.zeros_like(v), trainable=False, name="adam_m") for v in self.variables]
        self.v = [tf.Variable(tf.zeros_like(v), trainable=False, name="adam_v") for v in self.variables]
        self.steps = tf.Variable(0.0, trainable=False, name="adam_steps")

    def reset(self) -> None:
        """Zero the moments and the step count and restore the step size, so every run starts as a fresh Adam."""
        self.learning_rate.assign(self.initial_rate)
        for slot in (*self.m, *self.v, self.steps):
            slot.assign(tf.zeros_like(slot))

    def apply(self, gradients: Sequence[tf.Tensor]) -> None:
        self.steps.assign_add(1.0)
        beta_1, beta_2 = tf.constant(ADAM_BETA_1), tf.constant(ADAM_BETA_2)
        beta_1_power, beta_2_power = beta_1**self.steps, beta_2**self.steps
        for grad, var, m, v in zip(gradients, self.variables, self.m, self.v):
            tf.raw_ops.ResourceApplyAdam(
                var=var.handle, m=m.handle, v=v.handle, beta1_power=beta_1_power, beta2_power=beta_2_power,
                lr=self.learning_rate, beta1=beta_1, beta2=beta_2,
                epsilon=tf.constant(ADAM_EPSILON), grad=grad,
            )


#: Choices for ``FitConfig.optimizer`` (and ``--optimizer``); "sgd" is the tutorial's.
OPTIMIZERS: dict[str, type[SGD] | type[Adam]] = {"sgd": SGD, "adam": Adam}


def choices() -> str:
    """The valid names, quoted and sorted, for error messages."""
    return ", ".join(repr(name) for name in sorted(OPTIMIZERS))


def make_optimizer(name: str, variables: Sequence[tf.Variable], learning_rate: float) -> SGD | Adam:
    """The optimizer called ``name``; an unknown name is a ValueError that lists the valid ones."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {choices()}, got {name!r}.")
    return OPTIMIZERS[name](variables, learning_rate)
