"""The graph-compiled training loop: blocks of epochs, in-graph shuffling, minibatch descent, in-graph stopping."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from model.classifier import Classifier
from model.config import FitConfig
from model.families import ModelSpec
from model.optimizers import make_optimizer
from model.stopping import Plateau, PlateauRule

HISTORY_KEYS = ("train_log_loss", "train_accuracy", "eval_log_loss", "eval_accuracy", "train_objective")


@dataclass
class History:
    """Whole-set (not batch-averaged) metrics after every epoch; ``train_objective`` is what is minimized
    (the log loss plus the L2 penalty)."""

    values: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in HISTORY_KEYS})

    def extend(self, block: np.ndarray) -> None:
        for key, column in zip(HISTORY_KEYS, block.T):
            self.values[key].extend(float(v) for v in column)

    @property
    def epochs(self) -> int:
        return len(self.values[HISTORY_KEYS[0]])


def penalized(variables: list[tf.Variable]) -> list[tf.Variable]:
    """The weights L2 applies to: matrices (rank >= 2), not biases, as scikit-learn leaves the intercept alone."""
    return [v for v in variables if v.shape.rank is not None and v.shape.rank >= 2]


class CompiledTrainer:
    """Trains a Classifier's ``net`` with one tf.function that runs a whole block of epochs in the graph.

    The loop knows the model only as ``classifier.net``: a tf.Module that maps standardized rows to logits,
    with ``trainable_variables`` and ``reset(seed)``; the optimizer and the stopping rule see only those
    variables and the loss, so any such module trains the same way. The function has a fixed input
    signature, so it is traced once however many blocks, epochs or rows it is called with (``trace_count``).
    With ``config.stop == "plateau"`` it ends a block early once the rule says so (``stopped``).
    """

    def __init__(self, classifier: Classifier, config: FitConfig) -> None:
        self.classifier = classifier
        self.net = classifier.net
        self.config = config
        self.trace_count = 0
        self.optimizer = make_optimizer(config.optimizer, self.net.trainable_variables, config.learning_rate)
        # A Variable, so cross-validation can try several strengths through one traced function.
        self.l2 = tf.Variable(config.l2, trainable=False, dtype=tf.float32, name="l2")
        rule = PlateauRule(config.patience, config.tolerance) if config.stop == "plateau" else None
        self.plateau = Plateau(rule) if rule is not None else None
        n = classifier.n_features
        matrix = tf.TensorSpec([None, n], tf.float32)
        vector = tf.TensorSpec([None], tf.float32)
        scalar = tf.TensorSpec([], tf.int64)
        self.run_epochs = tf.function(
            self._run_epochs, input_signature=[matrix, vector, matrix, vector, scalar, scalar]
        )

    @property
    def stopped(self) -> bool:
        """Whether the stopping rule ended the last fit before ``config.epochs``."""
        return self.plateau is not None and bool(self.plateau.stopped.numpy())

    def _penalty(self) -> tf.Tensor:
        weights = penalized(self.net.trainable_variables)
        total = tf.reduce_sum(tf.square(weights[0]))
        for w in weights[1:]:
            total += tf.reduce_sum(tf.square(w))
        return self.l2 * total

    def _loss(self, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        logits = self.net(x)
        loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))
        return loss + self._penalty()

    def _whole_set(self, x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        logits = self.net(x)
        loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))
        accuracy = tf.reduce_mean(tf.cast(tf.cast(logits > 0, tf.float32) == y, tf.float32))
        return loss, accuracy

    def _epoch(self, x: tf.Tensor, y: tf.Tensor, epoch: tf.Tensor) -> None:
        n = tf.shape(x, out_type=tf.int64)[0]
        batch = tf.constant(self.config.batch_size, tf.int64)
        # Stateless: the permutation depends only on (seed, epoch), so runs are bitwise reproducible.
        order = tf.random.experimental.stateless_shuffle(
            tf.range(n), seed=tf.stack([tf.constant(self.config.seed, tf.int64), epoch])
        )
        variables = self.net.trainable_variables
        for start in tf.range(0, n, batch):
            index = order[start : start + batch]
            with tf.GradientTape() as tape:
                loss = self._loss(tf.gather(x, index), tf.gather(y, index))
            self.optimizer.apply(tape.gradient(loss, variables))

    def _run_epochs(self, x, y, x_eval, y_eval, first_epoch, count):  # noqa: ANN001, ANN202 (traced)
        self.trace_count += 1  # Python side effect: runs only while tracing.
        metrics = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
        for i in tf.range(count):
            self._epoch(x, y, first_epoch + i)
            train_loss, train_acc = self._whole_set(x, y)
            eval_loss, eval_acc = self._whole_set(x_eval, y_eval)
            objective = train_loss + self._penalty()
            metrics = metrics.write(tf.cast(i, tf.int32),
                                    tf.stack([train_loss, train_acc, eval_loss, eval_acc, objective]))
            if self.plateau is not None:  # decided while tracing: the tutorial's graph has no rule at all
                if self.plateau.update(objective, self.optimizer.learning_rate):
                    break
        return metrics.stack()

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        x_eval: np.ndarray,
        y_eval: np.ndarray,
        block: int = 20,
        on_block: Callable[[int, History], None] | None = None,
    ) -> History:
        """Start from the seed's initial weights, adapt the normalization to ``x``, then train for
        ``config.epochs`` epochs or until the stopping rule ends the run.

        ``on_block(epochs_done, history)`` reports progress after every block of epochs.
        """
        self.net.reset(self.config.seed)
        self.optimizer.reset()
        if self.plateau is not None:
            self.plateau.reset()
        x = self._normalized(x, adapt=True)
        x_eval = self._normalized(x_eval)
        y, y_eval = _float32(y), _float32(y_eval)
        history = History()
        while history.epochs < self.config.epochs and not self.stopped:
            count = min(block, self.config.epochs - history.epochs)
            history.extend(self.run_epochs(x, y, x_eval, y_eval, np.int64(history.epochs), np.int64(count)).numpy())
            if on_block is not None:
                on_block(history.epochs, history)
        return history

    def _normalized(self, x: np.ndarray, adapt: bool = False) -> tf.Tensor:
        """``x`` standardized once per fit, not once per block: at a million rows that pass costs an epoch."""
        x = _float32(x)
        if adapt:
            self.classifier.normalize.adapt(x)
        return self.classifier.normalize(x)


def _float32(a: np.ndarray) -> tf.Tensor:
    """One float32 tensor per input, converted once (never a float64 copy of a float32 array)."""
    return tf.convert_to_tensor(np.asarray(a, np.float32))


def fit_classifier(
    x: np.ndarray, y: np.ndarray, x_eval: np.ndarray, y_eval: np.ndarray, config: FitConfig,
    spec: ModelSpec = ModelSpec(), **kwargs: object
) -> tuple[Classifier, History, CompiledTrainer]:
    """Build a fresh Classifier of the ``spec`` family from ``config.seed`` and train it."""
    classifier = Classifier(x.shape[1], seed=config.seed, spec=spec)
    trainer = CompiledTrainer(classifier, config)
    history = trainer.fit(x, y, x_eval, y_eval, **kwargs)
    return classifier, history, trainer
