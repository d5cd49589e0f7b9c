"""The README's main job: train, export, write the WDBC rows as CSV, score them on both runtimes, compare."""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl

from contract.cli import add_standard_options


def steps(root: Path) -> list[list[str]]:
    """The commands a user would type, in order (each is a real CLI of this project)."""
    model, export, data = root / "model", root / "export", root / "wdbc.csv"
    return [
        ["-m", "model.train", "--out", str(model)],
        ["-m", "export", "--model", str(model), "--out", str(export)],
        ["-m", "model.data", str(data)],
        ["-m", "scoring.batch", str(data), str(root / "scored_onnx.csv"), "--model", str(export), "--runtime", "onnx"],
        ["-m", "scoring.batch", str(data), str(root / "scored_tf.csv"), "--model", str(export), "--runtime", "tf"],
    ]


def agreement(root: Path) -> str:
    """How the two runtimes' outputs compare, and how the labels compare with the diagnoses."""
    onnx, tf = (pl.read_csv(root / f"scored_{n}.csv", schema_overrides={"probability": pl.Float32}) for n in ("onnx", "tf"))
    truth = pl.read_csv(root / "wdbc.csv", columns=["diagnosis"])["diagnosis"].to_numpy() == "M"
    diff = np.abs(onnx["probability"].to_numpy().astype(np.float64) - tf["probability"].to_numpy())
    same_labels = onnx["label"].equals(tf["label"]) and onnx["id"].equals(tf["id"])
    accuracy = float(np.mean(onnx["label"].to_numpy() == truth))
    return (f"onnx vs tf on {len(onnx)} rows: labels {'identical' if same_labels else 'DIFFER'}, "
            f"probability max |diff| {diff.max():.3g} (tolerance 1e-6); "
            f"label accuracy against the diagnoses {accuracy:.4f} (all 569 rows, train and test)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.journey", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("artifacts"), help="where everything goes (default: %(default)s)")
    add_standard_options(parser)
    args = parser.parse_args(argv)
    for step in steps(args.out):
        print(f"\n$ python {shlex.join(step)}", flush=True)
        if subprocess.run([sys.executable, *step]).returncode != 0:
            print(f"step failed: python {shlex.join(step)}", file=sys.stderr)
            return 1
    print("\n" + agreement(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
