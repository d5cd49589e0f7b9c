"""The training CLI: ``python -m model.train`` (TensorFlow loads only once the options are checked)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contract.cli import add_standard_options, prepare_tensorflow, step_printer
from contract.text import separator_option
from model.config import FORMATS, MISSING, OPTIMIZERS, DataSpec, FitConfig, validate_config
from model.errors import ConfigError, DataError
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


def build_parser() -> argparse.ArgumentParser:
    defaults = FitConfig()
    parser = argparse.ArgumentParser(
        prog="python -m model.train",
        description="Train a logistic-regression classifier with a graph-compiled loop, on WDBC (the default) "
                    "or on your own numeric binary-classification table.",
    )
    parser.add_argument("--epochs", type=int, default=defaults.epochs, help="passes over the training rows (default: %(default)s)")
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate, help="gradient-descent step (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size, help="minibatch rows (default: %(default)s)")
    parser.add_argument("--optimizer", default=defaults.optimizer,
                        help=f"update rule, one of {', '.join(OPTIMIZERS)}: 'sgd' (the tutorial's) or 'adam' (per-weight "
                             "step sizes: with a large --batch-size it needs far fewer epochs than sgd) "
                             "(default: %(default)s)")
    parser.add_argument("--l2", type=_l2_option, default=defaults.l2,
                        help="L2 strength (penalty l2*sum(w^2)), or 'cv' to choose it by k-fold CV on the training rows")
    parser.add_argument("--cv-folds", type=int, default=5, help="folds for --l2 cv (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed for weights and shuffling (default: %(default)s)")
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
                       help="an id column, never a feature (default: a column named 'id')")
    group.add_argument("--sep", type=separator_option, default=None,
                       help="field separator: , ; | or tab (default: sniffed from the header)")
    group.add_argument("--format", dest="fmt", choices=FORMATS, default=defaults.fmt,
                       help="file format (default: from the name, .parquet, or the first line, UCI's wdbc.data)")
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
                    args.fmt, args.missing, args.test_path, args.test_fraction, args.stratify)


def _progress(total: int, quiet: bool) -> Any:
    if quiet:
        return None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=total, unit="epoch", file=sys.stderr)

        def update_bar(done: int, history: History) -> None:
            bar.update(done - bar.n)
            bar.set_postfix(test_loss=f"{history.values['eval_log_loss'][-1]:.4f}")
            if done == total:
                bar.close()

        return update_bar

    def log_line(done: int, history: History) -> None:
        v = {k: values[-1] for k, values in history.values.items()}
        print(f"epoch {done:>4}/{total}: train log loss {v['train_log_loss']:.4f} acc {v['train_accuracy']:.4f}"
              f" | test log loss {v['eval_log_loss']:.4f} acc {v['eval_accuracy']:.4f}", file=sys.stderr)

    return log_line


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    l2_cv = args.l2 == "cv"
    config = FitConfig(args.epochs, args.learning_rate, args.batch_size, 0.0 if l2_cv else args.l2, args.seed,
                       args.optimizer)
    try:
        validate_config(config, args.target_fnr, args.cv_folds)
        inputs = {"--data": args.data, "--test": args.test_path}
        check_out(args.out, TRAINING_RUN, inputs)  # before minutes of training: the same check runs at the end
        prepare_tensorflow(args)
        from model.report import summary
        from model.run import save_run, train

        result = train(config, data_spec(args), l2_cv, args.cv_folds, args.target_fnr,
                       _progress(config.epochs, args.quiet), on_step=step_printer(args.quiet))
        save_run(result, args.out, inputs)
    except (ConfigError, DataError, OSError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(summary(result.report, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
