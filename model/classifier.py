"""The Classifier (normalization, a model family's net, the threshold) and the protocol every family follows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol

import numpy as np
import tensorflow as tf

from model.families import ModelSpec
from model.logistic import LogisticRegression
from model.mlp import MLP


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


class Net(Protocol):
    """A model family: what training, the checkpoint and the export need of it, and nothing else."""

    family: ClassVar[str]  # its --model name, recorded in model.json, the report and the export's metadata
    checkpoint_format: ClassVar[str]  # model.json's format for a run of this family
    attribute: ClassVar[str]  # the Classifier's attribute for it: the checkpoint's name for its variables
    compute_dtype: ClassVar[str]  # what ``serving_logit`` computes in: the export's parity tolerance follows it

    @classmethod
    def build(cls, spec: ModelSpec, n_features: int, seed: int) -> Net: ...

    @property
    def spec(self) -> ModelSpec: ...

    @property
    def trainable_variables(self) -> Sequence[tf.Variable]: ...

    def reset(self, seed: int) -> None:
        """Set the initial weights ``seed`` determines (stateless: the same every time)."""

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        """Float32 logits of standardized float32 rows: what training fits."""

    def serving_logit(self, x: tf.Tensor, normalize: Normalize) -> tf.Tensor:
        """The served logit of raw float32 rows, computed in ``compute_dtype``."""


#: Every family, by its --model name (model.families.FAMILIES lists the same names without TensorFlow).
NETS: dict[str, type[Net]] = {net.family: net for net in (LogisticRegression, MLP)}


class Classifier(tf.Module):
    """Normalization, a family's net and the decision threshold, saved and exported together."""

    def __init__(self, n_features: int, seed: int = 22, threshold: float = 0.5, spec: ModelSpec = ModelSpec()) -> None:
        super().__init__(name="classifier")
        self.n_features = n_features
        self.normalize = Normalize(n_features)
        net = NETS[spec.family].build(spec, n_features, seed)
        # Under the family's own attribute, so checkpoints name its variables as before families (logistic/w).
        self._net_attribute = net.attribute
        setattr(self, net.attribute, net)
        # A Variable, not a constant: tf2onnx turns captured constants into extra graph inputs.
        self.threshold = tf.Variable(threshold, trainable=False, dtype=tf.float32, name="threshold")

    @property
    def net(self) -> Net:
        """What the trainer fits on standardized rows: the family's tf.Module (see ``Net``)."""
        return getattr(self, self._net_attribute)

    def logits(self, x: tf.Tensor) -> tf.Tensor:
        """Training-precision (float32) logits."""
        return self.net(self.normalize(x))

    def outputs(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        """The serving outputs: probability, logit (float32) and label (``probability > threshold``).

        The family computes the logit in its serving precision (logistic regression: float64, see
        model/logistic.py); it is rounded once to float32 here, the probability taken before rounding.
        """
        logit = self.net.serving_logit(x, self.normalize)
        probability = tf.cast(tf.sigmoid(logit), tf.float32)
        label = tf.cast(probability > self.threshold, tf.int64)
        return {"probability": probability, "logit": tf.cast(logit, tf.float32), "label": label}

    def outputs_in_blocks(self, x: np.ndarray, rows: int = 65_536) -> dict[str, np.ndarray]:
        """``outputs`` over ``x`` as numpy arrays, computed ``rows`` rows at a time.

        Bounded memory (one call on the whole table makes float64 copies of it, 8 bytes a value); a row's values
        are the same in any block (tests/test_classifier.py checks it for every family).
        """
        blocks = [self.outputs(x[start : start + rows]) for start in range(0, len(x), rows)] or [self.outputs(x)]
        return {name: np.concatenate([b[name].numpy() for b in blocks]) for name in blocks[0]}
