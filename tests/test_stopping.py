"""Tests for model.stopping: the plateau rule cuts the step, then stops, exactly when its counts say."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from model.stopping import CUT_FACTOR, Plateau, PlateauRule


def run(rule: PlateauRule, objectives: list[float]) -> tuple[list[bool], list[float]]:
    plateau, rate = Plateau(rule), tf.Variable(1.0)
    stops, rates = [], []
    for value in objectives:
        stops.append(bool(plateau.update(tf.constant(value, tf.float32), rate)))
        rates.append(float(rate.numpy()))
    return stops, rates


def test_a_plateau_cuts_the_step_then_the_next_one_stops() -> None:
    # 10 and 5 improve; 4.9 and 4.8 do not by 10% (plateau 1: cut); 4.7 and 4.6 do not either (plateau 2: stop).
    stops, rates = run(PlateauRule(patience=2, tolerance=0.1, cuts=1), [10, 5, 4.9, 4.8, 4.7, 4.6])
    assert stops == [False, False, False, False, False, True]
    assert rates == pytest.approx([1, 1, 1, CUT_FACTOR, CUT_FACTOR, CUT_FACTOR])


def test_progress_resets_the_wait() -> None:
    # 4.0 is a 20% fall after one flat epoch: the wait starts again, so nothing happens before epoch 6.
    stops, rates = run(PlateauRule(patience=2, tolerance=0.1, cuts=0), [5, 4.9, 4.0, 3.9, 3.95])
    assert stops == [False, False, False, False, True]
    assert rates == [1.0] * 5


def test_reset_forgets_the_best_value_the_wait_and_the_cuts() -> None:
    rule = PlateauRule(patience=1, tolerance=0.0, cuts=1)
    plateau, rate = Plateau(rule), tf.Variable(1.0)
    for value in (1.0, 1.0, 1.0):
        plateau.update(tf.constant(value), rate)
    assert bool(plateau.stopped.numpy())
    plateau.reset()
    assert (float(plateau.best.numpy()), int(plateau.waited.numpy()), int(plateau.cuts.numpy())) == (np.inf, 0, 0)
    assert not bool(plateau.stopped.numpy())
