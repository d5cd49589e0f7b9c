"""Logistic regression as a tf.Module (the tutorial's model): one model family of model.classifier; no I/O."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import tensorflow as tf

from model.families import ModelSpec

if TYPE_CHECKING:
    from model.classifier import Normalize


class LogisticRegression(tf.Module):
    """``logit = x @ w + b``; weights start uniform in [0, 1) as in the tutorial, from a stateless seed."""

    family: ClassVar[str] = "logreg"
    #: model.json's format for a run of this family (unchanged since before there were families).
    checkpoint_format: ClassVar[str] = "logreg-checkpoint/2"
    #: The attribute the Classifier keeps it under: checkpoints name variables by it (classifier/logistic/w).
    attribute: ClassVar[str] = "logistic"
    #: Served in float64 (``serving_logit`` says why): the runtimes agree to the last float32 bit.
    compute_dtype: ClassVar[str] = "float64"

    def __init__(self, n_features: int, seed: int = 22, name: str | None = None) -> None:
        super().__init__(name=name)
        self.w = tf.Variable(tf.zeros([n_features, 1]), name="w")
        self.b = tf.Variable(0.0, name="b")
        self.reset(seed)

    @classmethod
    def build(cls, spec: ModelSpec, n_features: int, seed: int) -> LogisticRegression:
        return cls(n_features, seed=seed)

    @property
    def spec(self) -> ModelSpec:
        return ModelSpec(self.family)

    def reset(self, seed: int) -> None:
        """Set the initial weights that ``seed`` determines (stateless, so always the same)."""
        self.w.assign(tf.random.stateless_uniform(self.w.shape, seed=[seed, 0]))
        self.b.assign(tf.random.stateless_uniform([], seed=[seed, 1]))

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.squeeze(tf.matmul(x, self.w), axis=1) + self.b

    def serving_logit(self, x: tf.Tensor, normalize: Normalize) -> tf.Tensor:
        """The served logit of raw rows ``x``, in float64 (the Classifier rounds it once to float32).

        A float32 dot product of 30 standardized features loses up to ~1e-5 to cancellation, differently in
        every runtime's summation order, while float64 makes any two correct runtimes agree to the last float32
        bit (or one ulp).
        """
        def f64(v: tf.Tensor) -> tf.Tensor:
            return tf.cast(v, tf.float64)

        x = (f64(x) - f64(normalize.mean)) / f64(normalize.std)
        # A per-row reduction rather than a matmul: GEMM kernels pick their summation order by batch
        # size, a row-wise sum does not, so a row scores bitwise the same in any batch.
        return tf.reduce_sum(x * f64(self.w)[:, 0], axis=1) + f64(self.b)
