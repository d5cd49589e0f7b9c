"""Tests for model.fit: the compiled loop is traced once, reproducible, and learns."""

from __future__ import annotations

import numpy as np
import pytest

from model.classifier import Classifier
from model.data import load_dataset, split
from model.families import ModelSpec
from model.fit import CompiledTrainer, FitConfig, fit_classifier


@pytest.fixture(scope="module")
def rows():
    return split(load_dataset())


def weights(clf: Classifier) -> tuple[np.ndarray, np.ndarray]:
    return clf.logistic.w.numpy(), clf.logistic.b.numpy()


def test_whole_run_is_traced_once_across_blocks_and_refits(rows) -> None:
    trainer = CompiledTrainer(Classifier(30), FitConfig(epochs=30))
    trainer.fit(rows.x_train, rows.y_train, rows.x_test, rows.y_test, block=7)  # blocks of 7,7,7,7,2
    trainer.fit(rows.x_train[:100], rows.y_train[:100], rows.x_test, rows.y_test, block=30)
    assert trainer.trace_count == 1


@pytest.mark.slow
def test_same_seed_gives_bitwise_identical_weights(rows) -> None:
    config = FitConfig(epochs=50)
    a, _, _ = fit_classifier(rows.x_train, rows.y_train, rows.x_test, rows.y_test, config)
    b, _, _ = fit_classifier(rows.x_train, rows.y_train, rows.x_test, rows.y_test, config, block=50)
    for wa, wb in zip(weights(a), weights(b)):
        assert wa.tobytes() == wb.tobytes()
    c, _, _ = fit_classifier(rows.x_train, rows.y_train, rows.x_test, rows.y_test, FitConfig(epochs=50, seed=23))
    assert weights(a)[0].tobytes() != weights(c)[0].tobytes()


def test_progress_is_reported_after_every_block_of_epochs(rows) -> None:
    seen: list[tuple[int, int]] = []
    fit_classifier(rows.x_train, rows.y_train, rows.x_test, rows.y_test, FitConfig(epochs=25), block=10,
                   on_block=lambda done, history: seen.append((done, len(history.values["train_log_loss"]))))
    assert seen == [(10, 10), (20, 20), (25, 25)]


def test_each_epoch_is_minibatch_descent_over_the_seeds_permutation_of_every_row() -> None:
    """The loop against a NumPy reference: every epoch visits each row once, in the order stateless_shuffle gives
    for (seed, epoch), one SGD step per batch on the batch's mean log loss plus the L2 term; the history's
    accuracy is on the whole training set with label = logit > 0."""
    import tensorflow as tf

    rng = np.random.default_rng(5)
    x = (rng.normal(size=(11, 3)) * [1, 10, 100] + [0, 5, -50]).astype(np.float32)
    y = np.array([1, 0, 0, 1, 1, 0, 1, 0, 0, 0, 1], np.float32)
    config = FitConfig(epochs=3, batch_size=4, learning_rate=0.3, l2=0.05, seed=9, optimizer="sgd")
    clf, history, _ = fit_classifier(x, y, x[:5], y[:5], config)
    xn = clf.normalize(x).numpy().astype(np.float64)
    start = Classifier(3, seed=9).logistic
    w, b = start.w.numpy()[:, 0].astype(np.float64), float(start.b.numpy())
    accuracy = []
    for epoch in range(3):
        order = tf.random.experimental.stateless_shuffle(tf.range(11, dtype=tf.int64),
                                                         seed=tf.constant([9, epoch], tf.int64)).numpy()
        for first in range(0, 11, 4):
            rows_ = order[first:first + 4]
            error = 1 / (1 + np.exp(-(xn[rows_] @ w + b))) - y[rows_]
            w, b = w - 0.3 * (xn[rows_].T @ error / len(rows_) + 2 * 0.05 * w), b - 0.3 * error.mean()
        accuracy.append(float(np.mean(((xn @ w + b) > 0) == y)))
    np.testing.assert_allclose(clf.logistic.w.numpy()[:, 0], w, rtol=1e-5)
    assert float(clf.logistic.b.numpy()) == pytest.approx(b, rel=1e-5)
    assert history.values["train_accuracy"] == pytest.approx(accuracy)


def test_float64_and_integer_inputs_train_as_their_float32_values(rows) -> None:
    config = FitConfig(epochs=5)
    a, _, _ = fit_classifier(rows.x_train, rows.y_train, rows.x_test, rows.y_test, config)
    b, _, _ = fit_classifier(rows.x_train.astype(np.float64), rows.y_train.astype(np.int64),
                             rows.x_test.astype(np.float64), rows.y_test.astype(np.int64), config)
    for wa, wb in zip(weights(a), weights(b)):
        assert wa.tobytes() == wb.tobytes()


def test_history_is_whole_set_per_epoch_and_loss_falls(rows) -> None:
    clf, history, _ = fit_classifier(rows.x_train, rows.y_train, rows.x_test, rows.y_test, FitConfig(epochs=40))
    assert all(len(v) == 40 for v in history.values.values())
    losses = history.values["train_log_loss"]
    assert losses[-1] < losses[0]
    # The last entry is the loss on the whole training set, not a batch average.
    logits = clf.logits(rows.x_train).numpy().astype(np.float64)
    y = rows.y_train
    whole = np.mean(np.maximum(logits, 0) - logits * y + np.log1p(np.exp(-np.abs(logits))))
    assert losses[-1] == pytest.approx(whole, rel=1e-5)


@pytest.mark.slow
def test_l2_penalty_shrinks_the_weights(rows) -> None:
    plain, _, _ = fit_classifier(rows.x_train, rows.y_train, rows.x_test, rows.y_test, FitConfig(epochs=50))
    ridge, _, _ = fit_classifier(rows.x_train, rows.y_train, rows.x_test, rows.y_test, FitConfig(epochs=50, l2=0.5))
    assert np.linalg.norm(weights(ridge)[0]) < 0.5 * np.linalg.norm(weights(plain)[0])


def test_normalization_uses_training_rows_only(rows) -> None:
    clf, _, _ = fit_classifier(rows.x_train, rows.y_train, rows.x_test, rows.y_test, FitConfig(epochs=1))
    np.testing.assert_allclose(clf.normalize.mean.numpy(), rows.x_train.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(clf.normalize.std.numpy(), rows.x_train.std(axis=0), rtol=1e-4)


@pytest.mark.slow
def test_adam_refits_start_fresh_and_are_bitwise_reproducible(rows) -> None:
    """fit() forgets Adam's moments, so refitting one trainer (as CV does) equals a fresh run."""
    config = FitConfig(epochs=5, batch_size=128, learning_rate=0.05, optimizer="adam")
    fresh, _, _ = fit_classifier(rows.x_train, rows.y_train, rows.x_test, rows.y_test, config)
    trainer = CompiledTrainer(Classifier(30), config)
    trainer.fit(rows.x_train[:200], rows.y_train[:200], rows.x_test, rows.y_test)
    trainer.fit(rows.x_train, rows.y_train, rows.x_test, rows.y_test)
    for a, b in zip(weights(fresh), weights(trainer.classifier)):
        assert a.tobytes() == b.tobytes()
    assert trainer.trace_count == 1


def test_unknown_optimizer_is_refused_with_the_valid_names() -> None:
    with pytest.raises(ValueError, match=r"optimizer must be one of 'adam', 'sgd', got 'Adam'\."):
        CompiledTrainer(Classifier(3), FitConfig(optimizer="Adam"))


@pytest.fixture(scope="module")
def big_table():
    """200,000 x 50 correlated rows (and 50,000 held out) with scikit-learn's fit on the standardized rows."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from benchmarks.datagen import logistic_table
    from model.metrics import log_loss_from_logits

    train, held_out = logistic_table(200_000, 50, seed=3), logistic_table(50_000, 50, seed=3, stream=1)
    scaler = StandardScaler().fit(train.x)
    sklearn = LogisticRegression(max_iter=10_000).fit(scaler.transform(train.x), train.y)
    losses = {name: log_loss_from_logits(t.y, sklearn.decision_function(scaler.transform(t.x)))
              for name, t in (("train", train), ("eval", held_out))}
    return train, held_out, losses


@pytest.mark.slow
def test_large_batches_reach_sklearn_loss_with_adam_but_not_with_the_tutorial_sgd(big_table) -> None:
    train, held_out, sklearn = big_table
    large_batch = dict(epochs=6, batch_size=16_384, learning_rate=0.05)
    _, adam, trainer = fit_classifier(train.x, train.y, held_out.x, held_out.y, FitConfig(**large_batch, optimizer="adam"))
    assert min(adam.values["train_log_loss"]) <= 1.01 * sklearn["train"]
    assert adam.values["eval_log_loss"][-1] <= 1.02 * sklearn["eval"]
    assert trainer.trace_count == 1
    # The tutorial's rule at the tutorial's rate: 13 steps an epoch are far too few.
    _, sgd, _ = fit_classifier(train.x, train.y, held_out.x, held_out.y, FitConfig(**large_batch, optimizer="sgd"))
    assert min(sgd.values["train_log_loss"]) > 1.2 * sklearn["train"]


@pytest.mark.slow
def test_plateau_stopping_ends_early_traced_once_and_reproducibly(rows) -> None:
    config = FitConfig(epochs=3000, optimizer="adam", learning_rate=0.02, batch_size=1024, l2=1 / (2 * 427),
                       stop="plateau", patience=20, tolerance=1e-5)
    clf, history, trainer = fit_classifier(rows.x_train, rows.y_train, rows.x_test, rows.y_test, config)
    assert trainer.stopped and 20 < history.epochs < 3000
    assert trainer.trace_count == 1
    assert all(len(v) == history.epochs for v in history.values.values())
    # The last 20 epochs made no progress of 1e-5 on the best objective seen before them.
    objective = history.values["train_objective"]
    assert min(objective[-20:]) >= min(objective[:-20]) * (1 - 1e-5)
    again, _, _ = fit_classifier(rows.x_train, rows.y_train, rows.x_test, rows.y_test, config, block=7)
    assert weights(clf)[0].tobytes() == weights(again)[0].tobytes()


@pytest.mark.slow
def test_plateau_stopping_reaches_scikit_learns_optimum(rows) -> None:
    """With l2 = 1/(2n), our objective is scikit-learn's C=1 objective divided by n: the same minimum."""
    from sklearn.linear_model import LogisticRegression

    from model.metrics import log_loss_from_logits

    n = len(rows.y_train)
    config = FitConfig(epochs=5000, optimizer="adam", learning_rate=0.02, batch_size=1024, l2=1 / (2 * n),
                       stop="plateau", patience=20, tolerance=1e-5)
    clf, history, _ = fit_classifier(rows.x_train, rows.y_train, rows.x_test, rows.y_test, config)
    xn = clf.normalize(rows.x_train).numpy()
    sk = LogisticRegression(C=1.0, tol=1e-10, max_iter=100_000).fit(xn, rows.y_train)
    optimum = log_loss_from_logits(rows.y_train, sk.decision_function(xn)) + float(np.sum(sk.coef_ ** 2)) / (2 * n)
    assert history.values["train_objective"][-1] == pytest.approx(optimum, rel=1e-3)


def test_fixed_epochs_never_stop_early(rows) -> None:
    _, history, trainer = fit_classifier(rows.x_train, rows.y_train, rows.x_test, rows.y_test,
                                         FitConfig(epochs=30, stop="epochs"))
    assert history.epochs == 30 and not trainer.stopped


def test_the_loop_trains_any_module_with_variables_and_logits(rows) -> None:
    """Another model family (a small MLP) trains through the same loop, optimizer and stopping rule."""
    import tensorflow as tf

    from model.fit import penalized
    from model.classifier import Normalize

    class Mlp(tf.Module):
        def __init__(self, n: int) -> None:
            super().__init__()
            self.hidden = tf.Variable(tf.zeros([n, 8]))
            self.bias = tf.Variable(tf.zeros([8]))
            self.out = tf.Variable(tf.zeros([8, 1]))

        def reset(self, seed: int) -> None:
            self.hidden.assign(tf.random.stateless_normal(self.hidden.shape, [seed, 0]) * 0.3)
            self.bias.assign(tf.zeros([8]))
            self.out.assign(tf.random.stateless_normal(self.out.shape, [seed, 1]) * 0.3)

        def __call__(self, x: tf.Tensor) -> tf.Tensor:
            return tf.squeeze(tf.nn.relu(x @ self.hidden + self.bias) @ self.out, axis=1)

    class Host:
        n_features = 30
        normalize = Normalize(30)
        net = Mlp(30)

    assert(v.shape.rank == 2 for v in penalized(Host.net.trainable_variables))
    trainer = CompiledTrainer(Host(), FitConfig(epochs=500, optimizer="adam", learning_rate=0.01, stop="plateau",
                                                l2=1e-3))
    history = trainer.fit(rows.x_train, rows.y_train, rows.x_test, rows.y_test)
    assert trainer.stopped and trainer.trace_count == 1
    assert history.values["train_log_loss"][-1] < 0.1 and history.values["eval_accuracy"][-1] > 0.93


MLP_SPEC = ModelSpec.of("mlp", hidden=(6, 4))


@pytest.mark.slow
def test_an_mlp_trains_in_the_same_one_trace_bitwise_reproducibly(rows) -> None:
    config = FitConfig(epochs=12)
    args = (rows.x_train, rows.y_train, rows.x_test, rows.y_test)
    a, history, trainer = fit_classifier(*args, config, MLP_SPEC, block=5)
    b, _, _ = fit_classifier(rows.x_train, rows.y_train, rows.x_test, rows.y_test, config, MLP_SPEC, block=12)
    assert trainer.trace_count == 1 and a.net.family == "mlp"
    assert all(x.numpy().tobytes() == y.numpy().tobytes() for x, y in zip(a.net.variables, b.net.variables))
    c, _, _ = fit_classifier(rows.x_train, rows.y_train, rows.x_test, rows.y_test, FitConfig(epochs=12, seed=23),
                             MLP_SPEC)
    assert a.net.kernels[0].numpy().tobytes() != c.net.kernels[0].numpy().tobytes()
    assert history.values["train_log_loss"][-1] < history.values["train_log_loss"][0]


def test_l2_applies_to_every_weight_matrix_and_to_no_bias() -> None:
    trainer = CompiledTrainer(Classifier(3, spec=MLP_SPEC), FitConfig(l2=0.25))
    kernels = sum(float(np.sum(np.square(k.numpy().astype(np.float64)))) for k in trainer.net.kernels)
    for bias in trainer.net.biases:
        bias.assign(np.full(bias.shape, 100.0, np.float32))
    assert float(trainer._penalty()) == pytest.approx(0.25 * kernels, rel=1e-6)


def test_an_mlp_epoch_is_minibatch_descent_by_backpropagation() -> None:
    """One epoch against NumPy's backpropagation: tanh hidden layers, SGD on the batch's mean log loss plus
    l2 * sum of every kernel's squares (biases unpenalized), batches in the seed's permutation."""
    import tensorflow as tf

    rng = np.random.default_rng(8)
    x = (rng.normal(size=(10, 3)) * [1, 10, 100]).astype(np.float32)
    y = np.array([1, 0, 0, 1, 1, 0, 1, 0, 1, 1], np.float32)
    spec = ModelSpec.of("mlp", hidden=(4, 2), activation="tanh")
    config = FitConfig(epochs=1, batch_size=4, learning_rate=0.5, l2=0.05, seed=9, optimizer="sgd")
    clf, _, _ = fit_classifier(x, y, x, y, config, spec)
    xn = clf.normalize(x).numpy().astype(np.float64)
    start = Classifier(3, seed=9, spec=spec).net
    kernels = [k.numpy().astype(np.float64) for k in start.kernels]
    biases = [b.numpy().astype(np.float64) for b in start.biases]
    order = tf.random.experimental.stateless_shuffle(tf.range(10, dtype=tf.int64),
                                                     seed=tf.constant([9, 0], tf.int64)).numpy()
    for first in range(0, 10, 4):
        batch = order[first:first + 4]
        layers = [xn[batch]]
        for k, b in zip(kernels[:-1], biases[:-1]):
            layers.append(np.tanh(layers[-1] @ k + b))
        logit = (layers[-1] @ kernels[-1] + biases[-1])[:, 0]
        delta = ((1 / (1 + np.exp(-logit)) - y[batch]) / len(batch))[:, None]
        grads = []
        for i in reversed(range(len(kernels))):
            grads.append((layers[i].T @ delta + 2 * 0.05 * kernels[i], delta.sum(axis=0)))
            delta = (delta @ kernels[i].T) * (1 - layers[i] ** 2)
        for i, (gk, gb) in enumerate(reversed(grads)):
            kernels[i], biases[i] = kernels[i] - 0.5 * gk, biases[i] - 0.5 * gb
    for got, expected in zip([*clf.net.kernels, *clf.net.biases], [*kernels, *biases]):
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-6)
