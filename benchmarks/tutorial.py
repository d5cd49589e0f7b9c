"""The tutorial's code as written (eager tf.Module model, tf.data minibatch loop): the naive reference."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf


class TutorialNormalize(tf.Module):
    def __init__(self, x: np.ndarray) -> None:
        self.mean = tf.Variable(tf.math.reduce_mean(x, axis=0))
        self.std = tf.Variable(tf.math.reduce_std(x, axis=0))

    def norm(self, x: np.ndarray) -> tf.Tensor:
        return (x - self.mean) / self.std


class TutorialLogisticRegression(tf.Module):
    def __init__(self) -> None:
        self.built = False

    def __call__(self, x: tf.Tensor, train: bool = True) -> tf.Tensor:
        if not self.built:
            self.w = tf.Variable(tf.random.uniform(shape=[x.shape[-1], 1], seed=22))
            self.b = tf.Variable(tf.random.uniform(shape=[], seed=22))
            self.built = True
        z = tf.squeeze(tf.add(tf.matmul(x, self.w), self.b), axis=1)
        return z if train else tf.sigmoid(z)


def _log_loss(y_pred: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=y_pred))


def _accuracy(y_pred: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    predicted = tf.cast(tf.sigmoid(y_pred) > 0.5, tf.float32)
    return tf.reduce_mean(tf.cast(tf.equal(predicted, y), tf.float32))


def tutorial_train(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
    epochs: int = 200, batch_size: int = 64, learning_rate: float = 0.01,
) -> TutorialLogisticRegression:
    """The tutorial's training cell: eager steps over tf.data batches with batch-averaged metrics."""
    tf.random.set_seed(22)
    norm_x = TutorialNormalize(x_train)
    x_train_norm, x_test_norm = norm_x.norm(x_train), norm_x.norm(x_test)
    log_reg = TutorialLogisticRegression()
    log_reg(x_train_norm[:1])
    return _eager_loop(log_reg, log_reg.variables, (x_train_norm, y_train), (x_test_norm, y_test), epochs, batch_size,
                       learning_rate)


def eager_mlp_train(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
    hidden: tuple[int, ...] = (32, 16), activation: str = "relu",
    epochs: int = 200, batch_size: int = 64, learning_rate: float = 0.01,
) -> tf.Module:
    """The tutorial's training cell with our MLP in place of its model: the same eager steps over tf.data
    batches and batch-averaged metrics, so the difference from ours is the compiled loop alone."""
    from model.mlp import MLP

    tf.random.set_seed(22)
    norm_x = TutorialNormalize(x_train)
    x_train_norm, x_test_norm = norm_x.norm(x_train), norm_x.norm(x_test)
    mlp = MLP(x_train.shape[1], hidden, activation, seed=22)
    return _eager_loop(mlp, mlp.trainable_variables, (x_train_norm, y_train), (x_test_norm, y_test), epochs,
                       batch_size, learning_rate)


def _eager_loop(model: Any, variables: Any, train: tuple[Any, Any], test: tuple[Any, Any], epochs: int,
                batch_size: int, learning_rate: float) -> Any:
    """The tutorial's loop: per epoch, eager gradient steps over shuffled tf.data batches, batch-averaged metrics."""
    train_dataset = tf.data.Dataset.from_tensor_slices(train).shuffle(buffer_size=len(train[1])).batch(batch_size)
    test_dataset = tf.data.Dataset.from_tensor_slices(test).shuffle(buffer_size=len(test[1])).batch(batch_size)
    for _ in range(epochs):
        batch_losses_train, batch_accs_train, batch_losses_test, batch_accs_test = [], [], [], []
        for x_batch, y_batch in train_dataset:
            with tf.GradientTape() as tape:
                y_pred_batch = model(x_batch)
                batch_loss = _log_loss(y_pred_batch, y_batch)
            batch_acc = _accuracy(y_pred_batch, y_batch)
            grads = tape.gradient(batch_loss, variables)
            for g, v in zip(grads, variables):
                v.assign_sub(learning_rate * g)
            batch_losses_train.append(batch_loss)
            batch_accs_train.append(batch_acc)
        for x_batch, y_batch in test_dataset:
            y_pred_batch = model(x_batch)
            batch_losses_test.append(_log_loss(y_pred_batch, y_batch))
            batch_accs_test.append(_accuracy(y_pred_batch, y_batch))
        tf.reduce_mean(batch_losses_train), tf.reduce_mean(batch_accs_train)
        tf.reduce_mean(batch_losses_test), tf.reduce_mean(batch_accs_test)
    return model
