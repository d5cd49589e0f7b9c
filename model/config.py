"""What a training run is asked to do: its hyperparameters and its data (light: the CLI's --help needs no TF)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from model.errors import ConfigError

#: The update rules of model.optimizers, by CLI name.
OPTIMIZERS = ("adam", "sgd")
#: What --missing may say, and the table formats --format may name.
MISSING = ("error", "drop")
FORMATS = ("auto", "csv", "parquet", "uci")


@dataclass(frozen=True)
class FitConfig:
    """The tutorial's hyperparameters by default, plus an optional L2 penalty and update rule."""

    epochs: int = 200
    learning_rate: float = 0.01
    batch_size: int = 64
    l2: float = 0.0
    seed: int = 22
    optimizer: str = "sgd"  # one of OPTIMIZERS


@dataclass(frozen=True)
class DataSpec:
    """What to train on: a table (None = the bundled WDBC copy) and how to read it (the CLI's data options)."""

    path: str | None = None
    label: str | None = None
    positive: str | None = None
    features: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    id_column: str | None = None
    sep: str | None = None
    fmt: str = "auto"
    missing: str = "error"
    test_path: str | None = None
    test_fraction: float = 0.25
    stratify: bool = False


#: Upper bounds of the numeric options: far beyond any useful run, below what makes a run endless or overflows
#: (a seed of 10**23 was a traceback; 10**20 epochs never end).
MAX_EPOCHS = 1_000_000
MAX_BATCH_SIZE = 1 << 31
MAX_SEED = (1 << 63) - 1
MAX_FOLDS = 1000


def validate_config(config: FitConfig, target_fnr: float | None, cv_folds: int) -> None:
    """Raise ConfigError naming the first option that is out of range."""
    checks = [
        (1 <= config.epochs <= MAX_EPOCHS, f"--epochs must be an integer in [1, {MAX_EPOCHS:,}], got {config.epochs}."),
        (config.batch_size <= MAX_BATCH_SIZE, f"--batch-size must be at most {MAX_BATCH_SIZE:,}, got "
                                              f"{config.batch_size}."),
        (config.seed <= MAX_SEED, f"--seed must be at most {MAX_SEED:,} (TensorFlow's seeds are 64-bit), got "
                                  f"{config.seed}."),
        (cv_folds <= MAX_FOLDS, f"--cv-folds must be at most {MAX_FOLDS}, got {cv_folds}."),
        (config.learning_rate > 0 and math.isfinite(config.learning_rate),
         f"--learning-rate must be a finite number > 0, got {config.learning_rate}."),
        (config.batch_size >= 1, f"--batch-size must be a positive integer, got {config.batch_size}."),
        (config.l2 >= 0 and math.isfinite(config.l2), f"--l2 must be a finite number >= 0 or 'cv', got {config.l2}."),
        (config.seed >= 0, f"--seed must be a non-negative integer, got {config.seed}."),
        (config.optimizer in OPTIMIZERS, f"--optimizer must be one of {', '.join(map(repr, OPTIMIZERS))}, got "
         f"{config.optimizer!r}."),
        (target_fnr is None or 0.0 <= target_fnr <= 1.0, f"--target-fnr must be in [0, 1], got {target_fnr}."),
        (cv_folds >= 2, f"--cv-folds must be at least 2, got {cv_folds}."),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
