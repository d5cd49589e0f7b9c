"""Synthetic data for benchmarks and big tests: WDBC-like CSVs, tables with a logistic truth, and a nonlinear one."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from benchmarks.common import benchmark_parser
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


#: Rows drawn per random generator: a table's rows depend only on (seed, stream, row), never on its length.
LOGISTIC_CHUNK = 65_536


@dataclass(frozen=True)
class LogisticTable:
    """Float32 features and {0, 1} labels drawn from a known logistic model."""

    x: np.ndarray
    y: np.ndarray
    bayes_log_loss: float  # mean log loss of the true model on these rows: no fit can expect to beat it


def logistic_table(rows: int, features: int, seed: int = 0, stream: int = 0, factors: int = 10) -> LogisticTable:
    """``rows`` x ``features`` float32 rows whose labels follow a fixed logistic model.

    Like real tables, and unlike independent Gaussians, the features share ``factors`` latent factors
    (so they are correlated and the problem is ill-conditioned), have their own scales and offsets (so
    standardization matters), and only a third of them carry signal. ``seed`` fixes that model;
    ``stream`` picks independent rows from it (e.g. 0 for training rows, 1 for evaluation rows).
    Rows are made in chunks straight into float32 arrays, so memory stays near the table's own size.
    """
    rng = np.random.default_rng(seed)
    loadings = rng.normal(0.0, 1.0, (factors, features))
    scale = np.exp(rng.normal(0.0, 1.0, features))
    offset = rng.normal(0.0, 5.0, features)
    weights = rng.normal(0.0, 1.0, features) * (rng.random(features) < 1 / 3)
    # Scaled so that the true logit has a standard deviation of about 2 whatever the width.
    weights *= 2.0 / np.sqrt(max(weights @ (loadings.T @ loadings + np.eye(features)) @ weights, 1e-12))
    x = np.empty((rows, features), np.float32)
    y = np.empty(rows, np.float32)
    loss_sum = 0.0
    for start in range(0, rows, LOGISTIC_CHUNK):
        n = min(LOGISTIC_CHUNK, rows - start)
        # One generator per part, so a short last chunk draws a prefix of what a full one would.
        factor_rng, noise_rng, label_rng = (np.random.default_rng([seed, stream, start // LOGISTIC_CHUNK, part])
                                            for part in range(3))
        latent = factor_rng.normal(size=(n, factors)) @ loadings + noise_rng.normal(size=(n, features))
        logit = latent @ weights - 0.5
        labels = label_rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
        loss_sum += float(np.sum(np.logaddexp(0.0, logit) - labels * logit))
        x[start : start + n] = latent * scale + offset
        y[start : start + n] = labels
    return LogisticTable(x, y, loss_sum / max(rows, 1))


def sphere_table(rows: int, features: int = 10, seed: int = 0, stream: int = 0, signal: int = 3,
                 flip: float = 0.05) -> LogisticTable:
    """A table no line separates: label 1 outside the sphere through the median of the first ``signal``
    standard-normal features (the rest are noise), with a share ``flip`` of labels flipped at random.

    Logistic regression is at chance on it; the best any model can do is the flip rate's own log loss, which
    ``bayes_log_loss`` holds. ``seed`` fixes nothing here but the rows: ``stream`` picks independent ones.
    """
    from scipy.stats import chi2

    rng = np.random.default_rng([seed, stream])
    x = rng.standard_normal((rows, features), dtype=np.float32)
    outside = np.square(x[:, :signal].astype(np.float64)).sum(axis=1) > chi2.median(signal)
    y = (outside ^ (rng.random(rows) < flip)).astype(np.float32)
    bayes = -(flip * np.log(flip) + (1 - flip) * np.log(1 - flip)) if 0 < flip < 1 else 0.0
    return LogisticTable(x, y, float(bayes))


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser("python -m benchmarks.datagen", __doc__)
    parser.add_argument("output", help="the CSV file to write (id and the 30 WDBC features, with a header)")
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows to write")
    parser.add_argument("--seed", type=int, default=0, help="seed of the resampling and the noise")
    args = parser.parse_args(argv)
    path = write_csv(args.output, args.rows, args.seed)
    print(f"wrote {args.rows:,} rows ({path.stat().st_size / 2**20:,.1f} MiB) to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
