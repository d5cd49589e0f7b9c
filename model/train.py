"""The training CLI: ``python -m model.train`` (TensorFlow loads only once the options are checked)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contract.cli import add_standard_options, prepare_tensorflow, step_printer
from contract.numbers import decimal_option, na_values_option
from contract.text import separator_option
from model.config import (
    CONVERGE,
    FORMATS,
    MISSING,
    OPTIMIZERS,
    RECIPES,
    STOPS,
    DataSpec,
    FitConfig,
    Requested,
    validate_requested,
)
from model.data import check_folds, load_training_data
from model.errors import ConfigError, DataError
from model.families import ACTIVATIONS, DEFAULT_HIDDEN, FAMILIES, ModelSpec
from model.files import TRAINING_RUN, check_out

if TYPE_CHECKING:
    from model.fit import History

DEFAULT_OUT = Path("artifacts/model")


def _l2_option(text: str) -> float | str:
    if text == "cv":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0 or 'cv', got {text!r}") from None


def _widths(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected layer widths such as 32,16, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    tutorial, converge = FitConfig(), CONVERGE
    parser = argparse.ArgumentParser(
        prog="python -m model.train",
        description="Train a binary classifier (logistic regression, or an MLP) with a graph-compiled loop, on WDBC "
                    "(the default) "
                    "or on your own numeric binary-classification table.",
    )
    parser.add_argument("--model", dest="family", choices=FAMILIES, default=FAMILIES[0],
                        help="model family: 'logreg' (the tutorial's logistic regression) or 'mlp' (a multilayer "
                             "perceptron) (default: %(default)s)")
    parser.add_argument("--hidden", type=_widths, default=None, metavar="W,W,...",
                        help=f"--model mlp: hidden layer widths, from the input side (default: "
                             f"{','.join(map(str, DEFAULT_HIDDEN))})")
    parser.add_argument("--activation", choices=ACTIVATIONS, default=None,
                        help="--model mlp: the hidden layers' nonlinearity (default: relu)")

    def default(name: str) -> str:
        return f"(default: {getattr(tutorial, name)} on WDBC, {getattr(converge, name)} on other tables)"

    parser.add_argument("--recipe", choices=RECIPES, default="auto",
                        help="where the defaults below come from: 'tutorial' (TensorFlow's tutorial: SGD, fixed "
                             "epochs, no penalty) or 'converge' (Adam until the loss stops falling, l2 as "
                             "scikit-learn's C=1); 'auto' is the tutorial's on WDBC and 'converge' on any other table "
                             "(default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="passes over the training rows; with --stop plateau the most it may take "
                             f"{default('epochs')}")
    parser.add_argument("--learning-rate", type=float, default=None, help=f"step size {default('learning_rate')}")
    parser.add_argument("--batch-size", type=int, default=None, help=f"minibatch rows {default('batch_size')}")
    parser.add_argument("--optimizer", default=None,
                        help=f"update rule, one of {', '.join(OPTIMIZERS)}: 'sgd' (the tutorial's) or 'adam' "
                             f"(per-weight step sizes) {default('optimizer')}")
    parser.add_argument("--l2", type=_l2_option, default=None,
                        help="L2 strength (penalty l2*sum(w^2) on the mean log loss), or 'cv' to choose it by k-fold "
                             "CV on the training rows (default: 0 on WDBC; 1/(2*training rows), scikit-learn's C=1, "
                             "on other tables)")
    parser.add_argument("--stop", choices=STOPS, default=None,
                        help=f"'epochs': run exactly --epochs; 'plateau': stop once the whole-set training loss stops "
                             f"falling {default('stop')}")
    parser.add_argument("--patience", type=int, default=None,
                        help=f"--stop plateau: epochs without progress before the step is cut or the run stops "
                             f"(default: {converge.patience})")
    parser.add_argument("--tolerance", type=float, default=None,
                        help=f"--stop plateau: progress is a fall of at least this share of the best loss "
                             f"(default: {converge.tolerance:g})")
    parser.add_argument("--cv-folds", type=int, default=5, help="folds for --l2 cv (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=None,
                        help=f"seed for weights and shuffling (default: {tutorial.seed})")
    parser.add_argument("--target-fnr", type=float, default=None,
                        help="choose the highest threshold whose training FNR is at most this (default: threshold 0.5)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (default: %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress, only errors")
    add_standard_options(parser, tensorflow=True)
    add_data_options(parser.add_argument_group("data (default: the WDBC copy bundled with scikit-learn)"))
    return parser


def _names(text: str) -> tuple[str, ...]:
    return tuple(name for name in (n.strip() for n in text.split(",")) if name)


def add_data_options(group: Any) -> None:
    """The options that say what to train on: one DataSpec field each."""
    defaults = DataSpec()
    group.add_argument("--data", default=None, metavar="PATH_OR_URL",
                       help="CSV/TSV (.gz/.bz2 ok), Parquet, or UCI's headerless wdbc.data; a path or URL")
    group.add_argument("--label", default=None, metavar="COLUMN", help="the column to predict (two distinct values)")
    group.add_argument("--positive", default=None, metavar="VALUE",
                       help="the label value that is class 1 (needed unless the values are 0/1 or false/true)")
    which = group.add_mutually_exclusive_group()
    which.add_argument("--features", type=_names, default=None, metavar="A,B,...",
                       help="exactly these feature columns, in this order (default: every numeric column except "
                            "the label and the id)")
    which.add_argument("--exclude", type=_names, default=(), metavar="A,B,...", help="columns that are not features")
    group.add_argument("--id", dest="id_column", default=None, metavar="COLUMN",
                       help="the id column, never a feature (default: every column named like an id, such as id, "
                            "customer_id or Customer ID, and every text column whose values are all different)")
    group.add_argument("--sep", type=separator_option, default=None,
                       help="field separator: , ; | or tab (default: sniffed from the header)")
    group.add_argument("--format", dest="fmt", choices=FORMATS, default=defaults.fmt,
                       help="file format (default: from the name, .parquet, or the first line, UCI's wdbc.data)")
    group.add_argument("--na-values", type=na_values_option, default=defaults.na_values, metavar="A,B,...|none",
                       help="spellings of a missing value, besides an empty field; they replace the default list, and "
                            "'none' reads them as text (default: pandas' list, such as NA, N/A, NaN, null, and '?')")
    group.add_argument("--decimal", type=decimal_option, default=defaults.decimal,
                       help="decimal mark in a CSV: '.' or ',' (default: %(default)s)")
    group.add_argument("--missing", choices=MISSING, default=defaults.missing,
                       help="rows with a missing feature or label value: error (default) or drop them")
    group.add_argument("--test", dest="test_path", default=None, metavar="PATH_OR_URL",
                       help="a separate test table with the same columns (default: split --data)")
    group.add_argument("--test-fraction", type=float, default=defaults.test_fraction,
                       help="share of the rows held out for testing (default: %(default)s)")
    group.add_argument("--stratify", action="store_true", help="keep the class ratio in the training and test rows")


def data_spec(args: argparse.Namespace) -> DataSpec:
    """The DataSpec the parsed data options describe."""
    return DataSpec(args.data, args.label, args.positive, args.features, args.exclude, args.id_column, args.sep,
                    args.fmt, args.missing, args.test_path, args.test_fraction, args.stratify, args.na_values,
                    args.decimal)


class _Progress:
    """Per-block progress: a bar on a terminal (counting up when the run may stop early), else a log line."""

    def __init__(self, config: FitConfig, quiet: bool) -> None:
        self.total = config.epochs
        self.fixed = config.stop == "epochs"
        self.quiet = quiet
        self.bar = None
        if not quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=self.total if self.fixed else None, unit="epoch", file=sys.stderr)

    def __call__(self, done: int, history: History) -> None:
        v = {k: values[-1] for k, values in history.values.items()}
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
            self.bar.set_postfix(train_loss=f"{v['train_objective']:.5f}", test_loss=f"{v['eval_log_loss']:.4f}")
        elif not self.quiet:
            of = f"/{self.total}" if self.fixed else f" (at most {self.total})"
            print(f"epoch {done:>4}{of}: train log loss {v['train_log_loss']:.4f} acc {v['train_accuracy']:.4f}"
                  f" | test log loss {v['eval_log_loss']:.4f} acc {v['eval_accuracy']:.4f}", file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def requested(args: argparse.Namespace) -> Requested:
    """The hyperparameters the command line asks for (None: the recipe's)."""
    l2 = None if args.l2 in (None, "cv") else args.l2
    return Requested(args.recipe, args.epochs, args.learning_rate, args.batch_size, l2, args.seed, args.optimizer,
                     args.stop, args.patience, args.tolerance)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    asked = requested(args)
    l2_cv = args.l2 == "cv"
    on_step = step_printer(args.quiet)
    try:
        # Options and data are checked before TensorFlow loads: a refusal takes a fraction of a second.
        validate_requested(asked, args.target_fnr, args.cv_folds)
        model_spec = ModelSpec.of(args.family, args.hidden, args.activation)
        inputs = {"--data": args.data, "--test": args.test_path}
        check_out(args.out, TRAINING_RUN, inputs)  # before minutes of training: the same check runs at the end
        spec = data_spec(args)
        on_step(f"reading {spec.path or 'the bundled WDBC copy'} ...")
        data = load_training_data(spec)
        if l2_cv:
            check_folds(data, args.cv_folds)
        config = asked.resolve(data.dataset.wdbc, len(data.rows.y_train))
        prepare_tensorflow(args)
        from model.report import summary
        from model.run import save_run, train

        progress = _Progress(config, args.quiet)
        try:
            result = train(asked, data, l2_cv, args.cv_folds, args.target_fnr, progress, on_step=on_step,
                           model_spec=model_spec)
        finally:
            progress.close()
        save_run(result, args.out, inputs)
    except (ConfigError, DataError, OSError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(summary(result.report, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
