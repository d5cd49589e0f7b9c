"""What a training run is asked to do: its hyperparameters and its data (light: the CLI's --help needs no TF)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from contract.numbers import DEFAULT_NA_VALUES
from model.errors import ConfigError

#: The update rules of model.optimizers, by CLI name.
OPTIMIZERS = ("adam", "sgd")
#: How a run ends: after exactly ``epochs``, or once the whole-set training objective stops falling.
STOPS = ("epochs", "plateau")
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
    stop: str = "epochs"  # one of STOPS; with "plateau", ``epochs`` is the most a run may take
    patience: int = 10  # "plateau": epochs without progress before the step is cut, or the run stops
    tolerance: float = 1e-4  # "plateau": progress means a fall of at least this share of the best objective


#: Where the hyperparameters come from: "tutorial" is TensorFlow's tutorial, right for WDBC; "converge" fits any
#: table to scikit-learn's optimum; "auto" is the tutorial's on WDBC (bundled or UCI's file), "converge" elsewhere.
RECIPES = ("auto", "tutorial", "converge")

#: Adam at 0.02 on batches of 1,024 rows (the whole table when it is smaller), until the objective stops
#: falling (two step cuts, then stop), and L2 as scikit-learn's LogisticRegression(C=1) has it; measured on 13
#: tables nobody tuned for in docs/training.md (benchmarks/own_tables.py).
CONVERGE = FitConfig(epochs=5000, learning_rate=0.02, batch_size=1024, optimizer="adam", stop="plateau", patience=20,
                     tolerance=1e-5)


def l2_like_sklearn(train_rows: int, c: float = 1.0) -> float:
    """Our penalty ``l2 * sum(w**2)`` on the mean loss equal to scikit-learn's ``C * sum(loss) + sum(w**2) / 2``."""
    return 1.0 / (2.0 * c * max(train_rows, 1))


@dataclass(frozen=True)
class Requested:
    """The hyperparameters a user asked for: None leaves the value to the recipe (``resolve``)."""

    recipe: str = "auto"
    epochs: int | None = None
    learning_rate: float | None = None
    batch_size: int | None = None
    l2: float | None = None
    seed: int | None = None
    optimizer: str | None = None
    stop: str | None = None
    patience: int | None = None
    tolerance: float | None = None

    def recipe_for(self, wdbc: bool) -> str:
        """The recipe that applies: ``auto`` is the tutorial's on WDBC and ``converge`` on any other table."""
        if self.recipe != "auto":
            return self.recipe
        return "tutorial" if wdbc else "converge"

    def resolve(self, wdbc: bool, train_rows: int) -> FitConfig:
        """The FitConfig to train with: the recipe's values, with every value the user gave in their place."""
        recipe = self.recipe_for(wdbc)
        base = FitConfig() if recipe == "tutorial" else replace(CONVERGE, l2=l2_like_sklearn(train_rows))
        given = {f.name: getattr(self, f.name) for f in fields(FitConfig) if getattr(self, f.name) is not None}
        return replace(base, **given)


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
    na_values: tuple[str, ...] = DEFAULT_NA_VALUES  # spellings of a missing value (an empty field always is one)
    decimal: str = "."  # the decimal mark: "." or ","


def validate_requested(requested: Requested, target_fnr: float | None, cv_folds: int) -> None:
    """Raise ConfigError for the first option out of range, before any data is read."""
    if requested.recipe not in RECIPES:
        raise ConfigError(f"--recipe must be one of {', '.join(map(repr, RECIPES))}, got {requested.recipe!r}.")
    validate_config(requested.resolve(False, 1), target_fnr, cv_folds)


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
        (config.stop in STOPS, f"--stop must be one of {', '.join(map(repr, STOPS))}, got {config.stop!r}."),
        (config.patience >= 1, f"--patience must be a positive integer, got {config.patience}."),
        (0 <= config.tolerance < 1, f"--tolerance must be in [0, 1), got {config.tolerance}."),
        (config.optimizer in OPTIMIZERS, f"--optimizer must be one of {', '.join(map(repr, OPTIMIZERS))}, got "
         f"{config.optimizer!r}."),
        (target_fnr is None or 0.0 <= target_fnr <= 1.0, f"--target-fnr must be in [0, 1], got {target_fnr}."),
        (cv_folds >= 2, f"--cv-folds must be at least 2, got {cv_folds}."),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
