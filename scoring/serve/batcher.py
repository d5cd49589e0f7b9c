"""The dynamic batcher (as Triton's): concurrent requests joined into one runtime call, run off the event loop."""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Outputs = dict[str, np.ndarray]
Predict = Callable[[np.ndarray], Outputs]


@dataclass
class _Waiting:
    features: np.ndarray
    future: asyncio.Future[Outputs]


_STOP = None  # put on the queue: the worker ends


class Batcher:
    """``await batcher.predict(x)``: ``x``'s outputs, computed in one runtime call together with the requests that
    queued meanwhile, up to ``max_rows`` rows (a larger request runs alone, in slices of ``max_rows``), waiting up to
    ``max_delay`` seconds for more. The model scores every row alike at any batch size (float64 per-row sums), so a
    request's results are exactly what it would get alone.

    One worker thread takes requests from a queue, joins them and calls the runtime; the event loop only queues
    requests and is handed each batch's results in one callback, so it keeps reading and answering requests
    meanwhile, and those that arrive form the next batch. (A thread of our own and a ``SimpleQueue``: the hand-over
    costs a fraction of ``run_in_executor``'s, which matters for single-row requests.)
    """

    def __init__(self, predict: Predict, max_rows: int, max_delay: float,
                 on_batch: Callable[[int, int], None] = lambda rows, requests: None) -> None:
        self._predict, self.max_rows, self.max_delay, self._on_batch = predict, max_rows, max_delay, on_batch
        self._queue: queue.SimpleQueue[_Waiting | None] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._carried: _Waiting | None = None  # taken from the queue, but did not fit into the last batch

    def start(self) -> None:
        """Start batching for the running event loop."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._work, name="infer", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Stop batching: a runtime call under way finishes, requests still queued are cancelled."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
        self._thread = None
        left = [self._carried] if self._carried else []
        while not self._queue.empty():
            left.append(self._queue.get_nowait())
        for waiting in left:
            if waiting is not None:
                waiting.future.cancel()

    async def predict(self, features: np.ndarray) -> Outputs:
        """The outputs for ``features`` (C-contiguous float32 [rows, n_features])."""
        if self._thread is None or self._loop is None:
            raise RuntimeError("the batcher is not started")
        future: asyncio.Future[Outputs] = self._loop.create_future()
        self._queue.put(_Waiting(features, future))
        return await future

    # ------------------------------------------------------------------------------------- the worker thread

    def _work(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            if batch:
                self._run(batch)

    def _next_batch(self) -> list[_Waiting] | None:
        """The requests queued now, up to ``max_rows`` rows; with a delay, those arriving until it runs out.
        None once stopped."""
        first, self._carried = self._carried or self._queue.get(), None
        if first is _STOP:
            self._queue.put(_STOP)  # seen again after this batch
            return None
        batch, rows = [first], len(first.features)
        deadline = time.monotonic() + self.max_delay
        while rows < self.max_rows:
            try:
                left = deadline - time.monotonic()
                waiting = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if waiting is _STOP:
                self._queue.put(_STOP)
                break
            if rows + len(waiting.features) > self.max_rows:
                self._carried = waiting  # the next batch starts with it
                break
            batch.append(waiting)
            rows += len(waiting.features)
        return [w for w in batch if not w.future.done()]  # a client that went away has its future cancelled

    def _run(self, batch: list[_Waiting]) -> None:
        x = batch[0].features if len(batch) == 1 else np.concatenate([w.features for w in batch])
        try:
            outputs = self._sliced(x)
        except Exception as exc:  # noqa: BLE001 - each request answers it (the app turns it into a 500)
            self._deliver(batch, None, exc)
            return
        self._on_batch(len(x), len(batch))
        self._deliver(batch, outputs, None)

    def _deliver(self, batch: list[_Waiting], outputs: Outputs | None, error: Exception | None) -> None:
        def answer() -> None:  # on the event loop
            start = 0
            for waiting in batch:
                end = start + len(waiting.features)
                if not waiting.future.done():
                    if outputs is None:
                        waiting.future.set_exception(error or RuntimeError("no outputs"))
                    else:
                        waiting.future.set_result({name: values[start:end] for name, values in outputs.items()})
                start = end

        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(answer)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    def _sliced(self, x: np.ndarray) -> Outputs:
        if len(x) <= self.max_rows:
            return self._predict(x)
        parts = [self._predict(x[i : i + self.max_rows]) for i in range(0, len(x), self.max_rows)]
        return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
