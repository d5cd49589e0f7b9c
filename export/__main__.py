"""CLI: ``python -m export --model DIR --out DIR [--opset N]`` (TensorFlow loads only once the options are checked)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from contract.artifacts import DEFAULT_OPSET, ONNX_FILE, PARITY_REPORT, SAVED_MODEL_DIR
from contract.cli import add_standard_options, prepare_tensorflow, step_printer
from contract.errors import ToolkitError
from export.errors import ExportError, ParityError
from model.errors import DataError
from export.layout import EXPORT
from model.files import check_out

DEFAULT_MODEL = Path("artifacts/model")
DEFAULT_OUT = Path("artifacts/export")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m export",
        description="Export a trained model as a SavedModel and as ONNX, validated against each other.",
    )
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="training output directory (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="export directory, replaced atomically (default: %(default)s)")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, help="ONNX opset (default: %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    add_standard_options(parser, tensorflow=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        check_out(args.out, EXPORT, {"--model": args.model})  # before the work: the same check runs at the end
        prepare_tensorflow(args)
        from export.pipeline import export_model

        report = export_model(args.model, args.out, args.opset, on_step=step_printer(args.quiet))
    except ParityError as exc:
        print(f"ParityError: {exc}", file=sys.stderr)
        return 1
    except (DataError, ExportError, ToolkitError, OSError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        m = report["max"]
        print(f"wrote {args.out}/{SAVED_MODEL_DIR}/, {args.out}/{ONNX_FILE} (opset {args.opset}), {args.out}/{PARITY_REPORT}")
        print(f"parity: probability max |diff| {m['probability_max_abs_diff']:.3g}, logit max rel diff "
              f"{m['logit_max_rel_diff']:.3g}, {len(report['comparisons'])} comparisons, all within tolerance")
    return 0


if __name__ == "__main__":
    sys.exit(main())
