"""Generate WDBC-like CSV files of any size (resampled rows plus noise) for benchmarks and big tests."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import polars as pl

from model.data import load_dataset
from model.wdbc import FEATURE_NAMES


def make_frame(rows: int, seed: int = 0) -> pl.DataFrame:
    """``id`` plus the 30 features: WDBC rows resampled, with 5% Gaussian noise per feature."""
    base = load_dataset().x.astype(np.float64)
    rng = np.random.default_rng(seed)
    sample = base[rng.integers(0, len(base), rows)]
    sample += rng.normal(0.0, 0.05, sample.shape) * base.std(axis=0)
    columns = {"id": np.arange(1, rows + 1, dtype=np.int64)}
    columns.update({name: np.abs(sample[:, j]).astype(np.float32) for j, name in enumerate(FEATURE_NAMES)})
    return pl.DataFrame(columns)


def write_csv(path: str | Path, rows: int, seed: int = 0, chunk: int = 500_000) -> Path:
    """Write ``rows`` rows in chunks (bounded memory), 4 decimals per value like the UCI file's precision."""
    path = Path(path)
    with open(path, "wb") as handle:
        for start in range(0, rows, chunk):
            frame = make_frame(min(chunk, rows - start), seed + start).with_columns(
                pl.col("id") + start)
            frame.write_csv(handle, include_header=start == 0, float_precision=4)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.datagen", description=__doc__)
    parser.add_argument("output")
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    write_csv(args.output, args.rows, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
