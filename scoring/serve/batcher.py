"""The dynamic batcher (as Triton's): concurrent requests joined into one runtime call, run off the event loop."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

Outputs = dict[str, np.ndarray]
Predict = Callable[[np.ndarray], Outputs]


@dataclass
class _Waiting:
    features: np.ndarray
    future: asyncio.Future[Outputs]


class Batcher:
    """``await batcher.predict(x)``: ``x``'s outputs, computed in one runtime call together with the requests that
    queued meanwhile, up to ``max_rows`` rows (a larger request runs alone, in slices of ``max_rows``), waiting up to
    ``max_delay`` seconds for more. The model scores every row alike at any batch size (float64 per-row sums), so a
    request's results are exactly what it would get alone. One call runs at a time, on a worker thread: the event
    loop keeps reading and answering requests meanwhile, and those that arrive form the next batch."""

    def __init__(self, predict: Predict, max_rows: int, max_delay: float,
                 on_batch: Callable[[int, int], None] = lambda rows, requests: None) -> None:
        self._predict, self.max_rows, self.max_delay, self._on_batch = predict, max_rows, max_delay, on_batch
        self._waiting: collections.deque[_Waiting] = collections.deque()
        self._arrived: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None

    def start(self) -> None:
        """Start batching (in the running event loop)."""
        self._arrived = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="infer")
        self._task = asyncio.get_running_loop().create_task(self._run(), name="batcher")

    async def stop(self) -> None:
        """Stop batching: requests still waiting are cancelled, a runtime call under way is waited for."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for waiting in self._waiting:
            waiting.future.cancel()
        self._waiting.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    async def predict(self, features: np.ndarray) -> Outputs:
        """The outputs for ``features`` (C-contiguous float32 [rows, n_features])."""
        if self._arrived is None:
            raise RuntimeError("the batcher is not started")
        future: asyncio.Future[Outputs] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(features, future))
        self._arrived.set()
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._next_batch()
            if not batch:
                continue
            x = batch[0].features if len(batch) == 1 else np.concatenate([w.features for w in batch])
            try:
                outputs = await loop.run_in_executor(self._executor, self._sliced, x)
            except Exception as exc:  # noqa: BLE001 - each request answers it (the app turns it into a 500)
                for waiting in batch:
                    if not waiting.future.done():
                        waiting.future.set_exception(exc)
                continue
            self._on_batch(len(x), len(batch))
            start = 0
            for waiting in batch:
                end = start + len(waiting.features)
                if not waiting.future.done():  # a client that went away has its future cancelled
                    waiting.future.set_result({name: values[start:end] for name, values in outputs.items()})
                start = end

    async def _next_batch(self) -> list[_Waiting]:
        """The requests waiting now, up to ``max_rows`` rows; with a delay, those arriving until it runs out."""
        assert self._arrived is not None
        while not self._waiting:
            self._arrived.clear()
            await self._arrived.wait()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_delay
        batch: list[_Waiting] = []
        rows = 0
        while True:
            while self._waiting and (not batch or rows + len(self._waiting[0].features) <= self.max_rows):
                waiting = self._waiting.popleft()
                if not waiting.future.done():
                    batch.append(waiting)
                    rows += len(waiting.features)
            if rows >= self.max_rows or self._waiting or loop.time() >= deadline:
                return batch  # full, the next one does not fit, or no more time to wait
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), deadline - loop.time())
            except TimeoutError:
                return batch

    def _sliced(self, x: np.ndarray) -> Outputs:
        if len(x) <= self.max_rows:
            return self._predict(x)
        parts = [self._predict(x[i : i + self.max_rows]) for i in range(0, len(x), self.max_rows)]
        return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
