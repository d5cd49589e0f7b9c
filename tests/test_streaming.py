"""Tests for scoring.streaming: what makes the fast path decline, fail, or stop."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks.datagen import write_csv
from model.wdbc import FEATURE_NAMES
from scoring.layout import resolve_layout
from scoring.output import Outputs
from scoring.signals import Interrupted, stop_on_signals
from scoring.streaming import Declined, score_streaming
from scoring.timing import Stages


@pytest.fixture(scope="module")
def generated_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("gen") / "gen.csv", 100_000)


def _layout(src: Path):
    return resolve_layout(src.read_text().split("\n", 1)[0].split(","), list(FEATURE_NAMES), str(src))


def _constant(x: np.ndarray, check) -> tuple[np.ndarray, np.ndarray]:
    check()
    return np.full(len(x), 0.25, np.float32), np.zeros(len(x), np.int64)


def test_a_doubtful_value_declines(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("id," + ",".join(FEATURE_NAMES) + "\n1," + ",".join(["1.5"] * 29) + ",\n")
    with pytest.raises(Declined):
        score_streaming(str(src), tmp_path / "out.csv", _layout(src), Outputs(), _constant, Stages(),
                        lambda r, p: None)


def test_a_full_disk_is_raised_not_declined(generated_csv: Path, small_filesystem: Path) -> None:
    """A write error says nothing about the input: re-running on the block pipeline would only fail again."""
    with pytest.raises(OSError, match="No space left on device"):
        score_streaming(str(generated_csv), small_filesystem / "out.csv", _layout(generated_csv), Outputs(), _constant,
                        Stages(), lambda r, p: None)
    (small_filesystem / "out.csv").unlink()


def test_a_signal_stops_the_query_and_nothing_scores_after_return(generated_csv: Path, tmp_path: Path) -> None:
    calls: list[tuple[float, int]] = []

    def predict(x: np.ndarray, check) -> tuple[np.ndarray, np.ndarray]:
        for i in range(0, len(x), 10):  # many small inference calls, as --batch-rows 10 makes
            check()
            signalled = len(calls) == 5
            if signalled:
                os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2 if signalled else 0.0001)  # a slow call: polars may return while it runs
            calls.append((time.monotonic(), 10))
        return np.zeros(len(x), np.float32), np.zeros(len(x), np.int64)

    with stop_on_signals(), pytest.raises(Interrupted) as caught:
        score_streaming(str(generated_csv), tmp_path / "out.csv", _layout(generated_csv), Outputs(), predict, Stages(),
                        lambda r, p: None)
    returned, count = time.monotonic(), len(calls)
    assert caught.value.exit_code == 143
    assert sum(rows for _, rows in calls) < 20_000  # of 100,000: it stopped, it did not run to the end
    threading.Event().wait(0.3)
    assert len(calls) == count and all(t <= returned for t, _ in calls)  # no morsel still in the model
