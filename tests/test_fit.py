"""Tests for model.fit: the compiled loop is traced once, reproducible, and learns."""

from __future__ import annotations

import numpy as np
import pytest

from model.data import load_dataset, split
from model.fit import CompiledTrainer, FitConfig, fit_classifier
from model.logistic import Classifier


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


def test_same_seed_gives_bitwise_identical_weights(rows) -> None:
    config = FitConfig(epochs=50)
    a, _, _ = fit_classifier(rows.x_train, rows.y_train, rows.x_test, rows.y_test, config)
    b, _, _ = fit_classifier(rows.x_train, rows.y_train, rows.x_test, rows.y_test, config, block=50)
    for wa, wb in zip(weights(a), weights(b)):
        assert wa.tobytes() == wb.tobytes()
    c, _, _ = fit_classifier(rows.x_train, rows.y_train, rows.x_test, rows.y_test, FitConfig(epochs=50, seed=23))
    assert weights(a)[0].tobytes() != weights(c)[0].tobytes()


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


def test_l2_penalty_shrinks_the_weights(rows) -> None:
    plain, _, _ = fit_classifier(rows.x_train, rows.y_train, rows.x_test, rows.y_test, FitConfig(epochs=50))
    ridge, _, _ = fit_classifier(rows.x_train, rows.y_train, rows.x_test, rows.y_test, FitConfig(epochs=50, l2=0.5))
    assert np.linalg.norm(weights(ridge)[0]) < 0.5 * np.linalg.norm(weights(plain)[0])


def test_normalization_uses_training_rows_only(rows) -> None:
    clf, _, _ = fit_classifier(rows.x_train, rows.y_train, rows.x_test, rows.y_test, FitConfig(epochs=1))
    np.testing.assert_allclose(clf.normalize.mean.numpy(), rows.x_train.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(clf.normalize.std.numpy(), rows.x_train.std(axis=0), rtol=1e-4)
