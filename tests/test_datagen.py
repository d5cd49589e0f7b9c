"""Tests for benchmarks.datagen's logistic tables: deterministic, length-independent, and truly logistic."""

from __future__ import annotations

import numpy as np

from benchmarks.datagen import LOGISTIC_CHUNK, logistic_table


def test_rows_depend_only_on_seed_stream_and_position() -> None:
    rows = LOGISTIC_CHUNK + 1_000  # crosses a chunk boundary
    long, short = logistic_table(rows, 7, seed=5), logistic_table(rows - 300, 7, seed=5)
    assert long.x.dtype == np.float32 and long.x.shape == (rows, 7) and long.y.shape == (rows,)
    assert long.x[: rows - 300].tobytes() == short.x.tobytes()
    assert long.y[: rows - 300].tobytes() == short.y.tobytes()
    other_stream, other_seed = logistic_table(1_000, 7, seed=5, stream=1), logistic_table(1_000, 7, seed=6)
    assert not np.array_equal(other_stream.x, long.x[:1_000]) and not np.array_equal(other_seed.x, long.x[:1_000])


def test_streams_share_the_model_and_features_are_correlated_and_unscaled() -> None:
    train, held_out = logistic_table(100_000, 12, seed=1), logistic_table(100_000, 12, seed=1, stream=1)
    # Same model: the same feature scales and offsets, and the same class balance, in both streams.
    np.testing.assert_allclose(train.x.std(axis=0), held_out.x.std(axis=0), rtol=0.03)
    assert abs(train.y.mean() - held_out.y.mean()) < 0.01
    assert set(np.unique(train.y)) == {0.0, 1.0}
    assert train.x.std(axis=0).max() / train.x.std(axis=0).min() > 3  # standardizing matters
    correlation = np.corrcoef(train.x[:20_000].T)
    assert np.abs(correlation[np.triu_indices(12, 1)]).max() > 0.5  # not independent Gaussians
    # Labels follow the model: its own loss is far below the loss of predicting the base rate.
    base = train.y.mean()
    base_rate_loss = -(base * np.log(base) + (1 - base) * np.log(1 - base))
    assert train.bayes_log_loss < 0.85 * base_rate_loss
