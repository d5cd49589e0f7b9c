"""Normalize and LogisticRegression as tf.Modules (the tutorial's model); no I/O."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


class Normalize(tf.Module):
    """Standardizes features with a mean and standard deviation learnt from training rows only."""

    def __init__(self, n_features: int, name: str | None = None) -> None:
        super().__init__(name=name)
        self.mean = tf.Variable(tf.zeros([n_features]), trainable=False, name="mean")
        self.std = tf.Variable(tf.ones([n_features]), trainable=False, name="std")

    def adapt(self, x: tf.Tensor) -> None:
        """Set mean/std from ``x`` (population std, as the tutorial; a constant column keeps std 1)."""
        x = tf.convert_to_tensor(x, tf.float32)
        mean = tf.reduce_mean(x, axis=0)
        # tf.math.reduce_std's own ops, reusing the mean: the same bits, one pass fewer over a big table.
        std = tf.sqrt(tf.reduce_mean(tf.square(x - mean), axis=0))
        self.mean.assign(mean)
        self.std.assign(tf.where(std > 0, std, tf.ones_like(std)))

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return (x - self.mean) / self.std


class LogisticRegression(tf.Module):
    """``logit = x @ w + b``; weights start uniform in [0, 1) as in the tutorial, from a stateless seed."""

    def __init__(self, n_features: int, seed: int = 22, name: str | None = None) -> None:
        super().__init__(name=name)
        self.w = tf.Variable(tf.zeros([n_features, 1]), name="w")
        self.b = tf.Variable(0.0, name="b")
        self.reset(seed)

    def reset(self, seed: int) -> None:
        """Set the initial weights that ``seed`` determines (stateless, so always the same)."""
        self.w.assign(tf.random.stateless_uniform(self.w.shape, seed=[seed, 0]))
        self.b.assign(tf.random.stateless_uniform([], seed=[seed, 1]))

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.squeeze(tf.matmul(x, self.w), axis=1) + self.b


class Classifier(tf.Module):
    """Normalization, logistic regression and the decision threshold, saved and exported together."""

    def __init__(self, n_features: int, seed: int = 22, threshold: float = 0.5) -> None:
        super().__init__(name="classifier")
        self.n_features = n_features
        self.normalize = Normalize(n_features)
        self.logistic = LogisticRegression(n_features, seed=seed)
        # A Variable, not a constant: tf2onnx turns captured constants into extra graph inputs.
        self.threshold = tf.Variable(threshold, trainable=False, dtype=tf.float32, name="threshold")

    @property
    def net(self) -> LogisticRegression:
        """What the trainer fits on standardized rows: a tf.Module with ``__call__(x) -> logits``,
        ``trainable_variables`` and ``reset(seed)`` (another model family fits the same loop)."""
        return self.logistic

    def logits(self, x: tf.Tensor) -> tf.Tensor:
        """Training-precision (float32) logits."""
        return self.logistic(self.normalize(x))

    def outputs(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        """The serving outputs: probability, logit (float32) and label (``probability > threshold``).

        Computed in float64 and rounded once to float32: a float32 dot product of 30 standardized
        features loses up to ~1e-5 to cancellation, differently in every runtime's summation order,
        while float64 makes any two correct runtimes agree to the last float32 bit (or one ulp).
        """
        def f64(v: tf.Tensor) -> tf.Tensor:
            return tf.cast(v, tf.float64)

        x = (f64(x) - f64(self.normalize.mean)) / f64(self.normalize.std)
        # A per-row reduction rather than a matmul: GEMM kernels pick their summation order by batch
        # size, a row-wise sum does not, so a row scores bitwise the same in any batch.
        logit = tf.reduce_sum(x * f64(self.logistic.w)[:, 0], axis=1) + f64(self.logistic.b)
        probability = tf.cast(tf.sigmoid(logit), tf.float32)
        label = tf.cast(probability > self.threshold, tf.int64)
        return {"probability": probability, "logit": tf.cast(logit, tf.float32), "label": label}

    def outputs_in_blocks(self, x: np.ndarray, rows: int = 65_536) -> dict[str, np.ndarray]:
        """``outputs`` over ``x`` as numpy arrays, computed ``rows`` rows at a time.

        Each row is reduced on its own, so the values are one call's, bit for bit, without the float64
        copies (8 bytes a value) of the whole table that one call makes.
        """
        blocks = [self.outputs(x[start : start + rows]) for start in range(0, len(x), rows)] or [self.outputs(x)]
        return {name: np.concatenate([b[name].numpy() for b in blocks]) for name in blocks[0]}
