"""Choose the L2 strength by stratified k-fold cross-validation on the training rows only."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.model_selection import StratifiedKFold

from model.classifier import Classifier
from model.families import ModelSpec
from model.fit import CompiledTrainer, FitConfig
from model.metrics import log_loss_from_logits

#: Candidate strengths for ``--l2 cv`` (the penalty is ``l2 * sum(w**2)`` added to the mean log loss).
DEFAULT_L2_GRID: tuple[float, ...] = (0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)


def cross_validate_l2(
    x: np.ndarray,
    y: np.ndarray,
    config: FitConfig,
    grid: tuple[float, ...] = DEFAULT_L2_GRID,
    folds: int = 5,
    on_step: Callable[[str], None] | None = None,
    spec: ModelSpec = ModelSpec(),
) -> tuple[float, dict[str, float]]:
    """Mean validation log loss per candidate; returns (best strength, {strength: score}).

    Only ``x``/``y`` (the training rows) are seen, and the normalization of each fold is fitted on
    that fold's training part, so no held-out row steers the choice. Ties go to the stronger penalty.
    """
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=config.seed)
    trainer = CompiledTrainer(Classifier(x.shape[1], seed=config.seed, spec=spec), config)
    scores: dict[str, float] = {}
    for l2 in grid:
        trainer.l2.assign(l2)
        losses = []
        for fit_rows, val_rows in splitter.split(x, y):
            trainer.fit(x[fit_rows], y[fit_rows], x[val_rows], y[val_rows], block=config.epochs)
            logits = trainer.classifier.logits(x[val_rows]).numpy()
            losses.append(log_loss_from_logits(y[val_rows], logits))
        scores[repr(l2)] = float(np.mean(losses))
        if on_step is not None:
            on_step(f"  l2 {l2:g}: mean validation log loss {scores[repr(l2)]:.4f} over {folds} folds")
    best = min(grid, key=lambda l2: (round(scores[repr(l2)], 12), -l2))
    return best, scores
