"""A multilayer perceptron as a tf.Module (TensorFlow's Core API MLP): one model family of model.classifier."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

import tensorflow as tf

from model.families import ModelSpec

if TYPE_CHECKING:
    from model.classifier import Normalize

#: The hidden layers' nonlinearity, by ``--activation`` name (model.families.ACTIVATIONS).
ACTIVATION_FUNCTIONS = {"relu": tf.nn.relu, "tanh": tf.math.tanh}


class MLP(tf.Module):
    """Dense layers ``h = activation(h @ kernel + bias)`` and a last linear layer to one logit.

    Kernels start Glorot/Xavier-uniform (``U(-a, a)``, ``a = sqrt(6 / (fan_in + fan_out))``, as Keras' default
    and the Core API tutorial have it) from stateless random ops keyed by the seed, so a run is reproducible
    without a global seed; biases start at zero.
    """

    family: ClassVar[str] = "mlp"
    #: model.json's format for a run of this family; a logistic-regression-only exporter refuses it by name.
    checkpoint_format: ClassVar[str] = "mlp-checkpoint/1"
    #: The attribute the Classifier keeps it under: checkpoints name variables by it (classifier/mlp/kernels/0).
    attribute: ClassVar[str] = "mlp"
    #: Served in float32, as trained (``serving_logit`` says why): the runtimes agree to GEMM summation order.
    compute_dtype: ClassVar[str] = "float32"

    def __init__(self, n_features: int, hidden: tuple[int, ...], activation: str, seed: int = 22,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        self.hidden = tuple(hidden)
        self.activation = activation
        widths = (n_features, *self.hidden, 1)
        self.kernels = [tf.Variable(tf.zeros([a, b]), name=f"kernel_{i}") for i, (a, b) in
                        enumerate(zip(widths[:-1], widths[1:]))]
        self.biases = [tf.Variable(tf.zeros([b]), name=f"bias_{i}") for i, b in enumerate(widths[1:])]
        self.reset(seed)

    @classmethod
    def build(cls, spec: ModelSpec, n_features: int, seed: int) -> MLP:
        assert spec.activation is not None
        return cls(n_features, spec.hidden, spec.activation, seed=seed)

    @property
    def spec(self) -> ModelSpec:
        return ModelSpec(self.family, self.hidden, self.activation)

    def reset(self, seed: int) -> None:
        """Set the initial weights that ``seed`` determines (stateless, so always the same)."""
        for i, (kernel, bias) in enumerate(zip(self.kernels, self.biases)):
            fan_in, fan_out = kernel.shape
            limit = math.sqrt(6.0 / (fan_in + fan_out))
            kernel.assign(tf.random.stateless_uniform(kernel.shape, seed=[seed, i], minval=-limit, maxval=limit))
            bias.assign(tf.zeros_like(bias))

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        """Logits of standardized float32 rows."""
        act = ACTIVATION_FUNCTIONS[self.activation]
        for kernel, bias in zip(self.kernels[:-1], self.biases[:-1]):
            x = act(tf.matmul(x, kernel) + bias)
        return tf.squeeze(tf.matmul(x, self.kernels[-1]) + self.biases[-1], axis=1)

    def serving_logit(self, x: tf.Tensor, normalize: Normalize) -> tf.Tensor:
        """The served logit of raw rows ``x``: the training graph itself, in float32 (see docs/export.md)."""
        return self(normalize(x))
