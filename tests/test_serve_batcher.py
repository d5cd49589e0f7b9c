"""scoring.serve.batcher: concurrent requests share runtime calls, each gets exactly its own rows' outputs."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from scoring.serve.batcher import Batcher


class Model:
    """A stand-in runtime that records each call (its rows and thread) and can be held back."""

    def __init__(self, seconds: float = 0.0, fail_on: float | None = None) -> None:
        self.calls: list[int] = []
        self.threads: set[str] = set()
        self.seconds, self.fail_on = seconds, fail_on

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        self.calls.append(len(x))
        self.threads.add(threading.current_thread().name)
        time.sleep(self.seconds)
        if self.fail_on is not None and (x == self.fail_on).any():
            raise RuntimeError("the runtime failed")
        return {"probability": x[:, 0] * 2, "label": (x[:, 0] > 10).astype(np.int64)}


def rows(start: int, n: int) -> np.ndarray:
    return np.arange(start, start + n, dtype=np.float32).repeat(2).reshape(n, 2)


async def run(batcher: Batcher, requests: list[np.ndarray], spacing: float = 0.0) -> list[dict[str, np.ndarray]]:
    batcher.start()
    try:
        tasks = []
        for x in requests:
            tasks.append(asyncio.create_task(batcher.predict(x)))
            await asyncio.sleep(spacing)
        return await asyncio.gather(*tasks)
    finally:
        await batcher.stop()


def test_concurrent_requests_share_calls_and_each_gets_its_own_rows() -> None:
    model = Model(seconds=0.02)
    requests = [rows(10 * i, 1 + i % 3) for i in range(20)]
    results = asyncio.run(run(Batcher(model, max_rows=1000, max_delay=0.0), requests))
    for x, out in zip(requests, results):
        assert out["probability"].tolist() == (x[:, 0] * 2).tolist()
        assert out["label"].tolist() == (x[:, 0] > 10).astype(int).tolist()
    assert sum(model.calls) == sum(len(x) for x in requests)
    assert len(model.calls) < len(requests)  # joined: the first call runs alone, the others queue behind it
    assert model.threads == {"infer"}  # off the event loop, on the batcher's one worker thread


def test_a_batch_never_exceeds_max_rows_and_a_larger_request_is_sliced() -> None:
    model = Model(seconds=0.01)
    requests = [rows(0, 3) for _ in range(10)] + [rows(100, 11)]
    results = asyncio.run(run(Batcher(model, max_rows=4, max_delay=0.0), requests))
    assert model.calls == [3] * 10 + [4, 4, 3]  # two requests of 3 rows never share a call of at most 4
    assert results[-1]["probability"].tolist() == (rows(100, 11)[:, 0] * 2).tolist()


def test_with_a_delay_requests_arriving_meanwhile_join_the_batch() -> None:
    alone, waiting = Model(), Model()
    requests = [rows(i, 1) for i in range(5)]
    asyncio.run(run(Batcher(alone, max_rows=100, max_delay=0.0), requests, spacing=0.01))
    asyncio.run(run(Batcher(waiting, max_rows=100, max_delay=0.5), requests, spacing=0.01))
    assert alone.calls == [1, 1, 1, 1, 1] and waiting.calls == [5]


def test_a_full_batch_does_not_wait_out_the_delay() -> None:
    model = Model()
    started = time.perf_counter()
    asyncio.run(run(Batcher(model, max_rows=4, max_delay=5.0), [rows(0, 2), rows(2, 2)]))
    assert model.calls == [4] and time.perf_counter() - started < 4


def test_a_failing_call_fails_its_requests_only_and_the_batcher_goes_on() -> None:
    model = Model(seconds=0.02, fail_on=-1)

    async def scenario() -> tuple[list[object], dict[str, np.ndarray]]:
        batcher = Batcher(model, max_rows=100, max_delay=0.0)
        batcher.start()
        try:
            first = asyncio.create_task(batcher.predict(rows(0, 1)))
            await asyncio.sleep(0.005)  # the first call is running: these two queue into one batch
            bad = [asyncio.create_task(batcher.predict(np.full((1, 2), -1, np.float32))),
                   asyncio.create_task(batcher.predict(rows(5, 1)))]
            outcome = await asyncio.gather(first, *bad, return_exceptions=True)
            return outcome, await batcher.predict(rows(7, 2))
        finally:
            await batcher.stop()

    outcome, after = asyncio.run(scenario())
    assert isinstance(outcome[0], dict)
    assert [type(o) for o in outcome[1:]] == [RuntimeError, RuntimeError]
    assert after["probability"].tolist() == [14, 16]


def test_a_cancelled_request_is_left_out_of_the_next_batch() -> None:
    model = Model(seconds=0.05)

    async def scenario() -> None:
        batcher = Batcher(model, max_rows=100, max_delay=0.0)
        batcher.start()
        try:
            first = asyncio.create_task(batcher.predict(rows(0, 1)))
            await asyncio.sleep(0.01)
            gone = asyncio.create_task(batcher.predict(rows(1, 7)))
            kept = asyncio.create_task(batcher.predict(rows(9, 2)))
            await asyncio.sleep(0)
            gone.cancel()  # its client went away
            await first
            assert (await kept)["probability"].tolist() == [18, 20]
        finally:
            await batcher.stop()

    asyncio.run(scenario())
    assert model.calls == [1, 2]


def test_predict_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        asyncio.run(Batcher(Model(), 10, 0.0).predict(rows(0, 1)))
