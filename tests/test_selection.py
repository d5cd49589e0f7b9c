"""Tests for model.selection: k-fold CV of the L2 strength fits on each fold's training part and picks the best."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold

from model.data import load_dataset, split
from model.fit import FitConfig, fit_classifier
from model.metrics import log_loss_from_logits
from model.selection import cross_validate_l2


@pytest.fixture(scope="module")
def rows():
    return split(load_dataset())


@pytest.mark.slow
def test_scores_are_the_mean_validation_loss_of_models_fit_without_those_rows(rows) -> None:
    config = FitConfig(epochs=15)
    best, scores = cross_validate_l2(rows.x_train, rows.y_train, config, grid=(0.0, 0.05), folds=3)
    splitter = StratifiedKFold(n_splits=3, shuffle=True, random_state=config.seed)
    for l2 in (0.0, 0.05):
        losses = []
        for fit_rows, val_rows in splitter.split(rows.x_train, rows.y_train):
            clf, _, _ = fit_classifier(rows.x_train[fit_rows], rows.y_train[fit_rows], rows.x_train[val_rows],
                                       rows.y_train[val_rows], FitConfig(epochs=15, l2=l2))
            losses.append(log_loss_from_logits(rows.y_train[val_rows], clf.logits(rows.x_train[val_rows]).numpy()))
        assert scores[repr(l2)] == pytest.approx(float(np.mean(losses)), rel=1e-6)
    assert best == min((0.0, 0.05), key=lambda l2: scores[repr(l2)])


@pytest.mark.slow
def test_the_lowest_score_wins_whatever_its_place_in_the_grid(rows) -> None:
    config = FitConfig()  # the tutorial's 200 epochs: no penalty is best on WDBC
    grid = (0.3, 0.0, 0.03)  # the best is neither first nor last
    best, scores = cross_validate_l2(rows.x_train, rows.y_train, config, grid=grid, folds=3)
    ordered = sorted(grid, key=lambda l2: scores[repr(l2)])
    assert best == ordered[0] == 0.0 and scores["0.3"] > scores["0.03"] > scores["0.0"]


def test_ties_go_to_the_stronger_penalty_and_each_strength_is_reported_over_five_folds_by_default() -> None:
    """Features that are all zero leave the logits to the bias alone, so every strength scores the same."""
    x, y = np.zeros((40, 2), np.float32), np.arange(40) % 2
    messages: list[str] = []
    best, scores = cross_validate_l2(x, y, FitConfig(epochs=3), grid=(0.0, 0.1, 0.01), on_step=messages.append)
    assert len(set(scores.values())) == 1 and best == 0.1
    assert messages == [f"  l2 {l2}: mean validation log loss {scores['0.0']:.4f} over 5 folds"
                        for l2 in ("0", "0.1", "0.01")]
