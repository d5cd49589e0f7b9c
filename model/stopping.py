"""When to stop training: a fixed number of epochs, or a plateau of the whole-set training objective."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

#: Each cut divides the step size by this.
CUT_FACTOR = 0.1


@dataclass(frozen=True)
class PlateauRule:
    """Stop once the objective has not fallen by ``tolerance`` (relative) for ``patience`` epochs in a row,
    ``cuts`` times over: each plateau but the last divides the step by 10 and starts a new wait.

    A constant step leaves a minibatch optimizer hovering around the optimum, as far from it as its step
    and its batches' noise allow; each cut shrinks that distance tenfold, so the last plateau is the
    optimum's, not the step's (scikit-learn's solvers stop on a tolerance for the same reason).
    """

    patience: int = 10
    tolerance: float = 1e-4
    cuts: int = 2


class Plateau:
    """The rule's state, as Variables updated inside the compiled loop: nothing leaves the graph per epoch."""

    def __init__(self, rule: PlateauRule) -> None:
        self.rule = rule
        self.best = tf.Variable(np.inf, trainable=False, dtype=tf.float32, name="best_objective")
        self.waited = tf.Variable(0, trainable=False, dtype=tf.int64, name="epochs_without_progress")
        self.cuts = tf.Variable(0, trainable=False, dtype=tf.int64, name="step_cuts")
        self.stopped = tf.Variable(False, trainable=False, name="stopped")

    def reset(self) -> None:
        self.best.assign(np.inf)
        self.waited.assign(0)
        self.cuts.assign(0)
        self.stopped.assign(False)

    def update(self, objective: tf.Tensor, learning_rate: tf.Variable) -> tf.Tensor:
        """Record one epoch's objective; cut ``learning_rate`` on a plateau; True once training should stop.

        Branch-free (``tf.where``), so the same graph serves every epoch without a cond per rule.
        """
        improved = objective < self.best * (1.0 - self.rule.tolerance)
        self.best.assign(tf.where(improved, objective, self.best))
        waited = tf.where(improved, tf.constant(0, tf.int64), self.waited + 1)
        plateau = waited >= self.rule.patience
        cut = tf.logical_and(plateau, self.cuts < self.rule.cuts)
        stop = tf.logical_and(plateau, tf.logical_not(cut))
        self.waited.assign(tf.where(cut, tf.constant(0, tf.int64), waited))
        self.cuts.assign_add(tf.cast(cut, tf.int64))
        learning_rate.assign(tf.where(cut, learning_rate * CUT_FACTOR, learning_rate))
        self.stopped.assign(stop)
        return stop
