"""The one serving signature: input ``features`` float32 [None, 30]; outputs probability, logit, label."""

from __future__ import annotations

import tensorflow as tf

from model.data import FEATURE_NAMES
from model.logistic import Classifier

INPUT_NAME = "features"
N_FEATURES = len(FEATURE_NAMES)
#: Output names, in the order we report them (never rely on an artifact's output order).
OUTPUT_NAMES = ("probability", "logit", "label")
INPUT_SIGNATURE = (tf.TensorSpec([None, N_FEATURES], tf.float32, name=INPUT_NAME),)
SIGNATURE_KEY = "serving_default"


class ServingModule(tf.Module):
    """Wraps a trained Classifier with the fixed-signature ``serve`` function both exports share."""

    def __init__(self, classifier: Classifier) -> None:
        super().__init__(name="wdbc_serving")
        if classifier.n_features != N_FEATURES:
            raise ValueError(
                f"The classifier has {classifier.n_features} features, but the serving signature "
                f"expects {N_FEATURES} ({FEATURE_NAMES[0]} ... {FEATURE_NAMES[-1]})."
            )
        self.classifier = classifier

    @tf.function(input_signature=INPUT_SIGNATURE)
    def serve(self, features: tf.Tensor) -> dict[str, tf.Tensor]:
        """Normalization, probability and class, all in the graph."""
        return self.classifier.outputs(features)

    def concrete_function(self) -> tf.types.experimental.ConcreteFunction:
        return self.serve.get_concrete_function()
