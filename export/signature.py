"""The one serving signature: input ``features`` float32 [None, n_features]; outputs probability, logit, label."""

from __future__ import annotations

import tensorflow as tf

from contract.artifacts import SIGNATURE_KEY
from contract.metadata import INPUT_NAME, OUTPUT_NAMES
from model.classifier import Classifier

__all__ = ["INPUT_NAME", "OUTPUT_NAMES", "SIGNATURE_KEY", "ServingModule", "input_signature"]


def input_signature(n_features: int) -> tuple[tf.TensorSpec, ...]:
    """The fixed input signature: any number of rows, exactly the model's features, float32."""
    return (tf.TensorSpec([None, n_features], tf.float32, name=INPUT_NAME),)


class ServingModule(tf.Module):
    """Wraps a trained Classifier with the fixed-signature ``serve`` function both exports share."""

    def __init__(self, classifier: Classifier) -> None:
        super().__init__(name="serving")
        self.classifier = classifier
        self.input_signature = input_signature(classifier.n_features)
        self.serve = tf.function(self._serve, input_signature=self.input_signature)

    def _serve(self, features: tf.Tensor) -> dict[str, tf.Tensor]:
        """Normalization, probability and class, all in the graph."""
        return self.classifier.outputs(features)

    def concrete_function(self) -> tf.types.experimental.ConcreteFunction:
        return self.serve.get_concrete_function()
