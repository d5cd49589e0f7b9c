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


def test_the_lowest_score_wins_whatever_its_place_in_the_grid(rows) -> None:
    config = FitConfig()  # the tutorial's 200 epochs: no penalty is best on WDBC
    grid = (0.3, 0.0, 0.03)  # the best is neither first nor last
    best, scores = cross_validate_l2(rows.x_train, rows.y_train, config, grid=grid, folds=3)
    ordered = sorted(grid, key=lambda l2: scores[repr(l2)])
    assert best == ordered[0] == 0.0 and scores["0.3"] > scores["0.03"] > scores["0.0"]
