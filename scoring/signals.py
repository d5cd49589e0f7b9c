"""SIGINT and SIGTERM as an exception, so the scorer unwinds (removing its temporary files) and exits 130/143."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A signal asked the scorer to stop; ``exit_code`` is 128 + its number, as shells report it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


@dataclass
class _State:
    received: int | None = None  # the first signal; later ones are ignored
    deferring: int = 0  # depth of deferred() blocks: a signal then waits for the outermost one to end
    pending: bool = False  # received while deferring, not raised yet


_state = _State()


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Inside, the first SIGINT or SIGTERM raises Interrupted in the main thread (at the end of a deferred()
    block if one is running). Later ones are ignored, so a second Ctrl-C cannot cut the clean-up short. The
    previous handlers are restored on exit; outside the main thread (where handlers cannot be set) this does
    nothing."""
    global _state
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _state = _State()

    def handler(signum: int, frame: object) -> None:
        if _state.received is not None:
            return
        _state.received = signum
        if _state.deferring:
            _state.pending = True
            return
        raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
        _state = _State()


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Inside, a signal does not raise until the block ends. For calls into native libraries that call back into
    Python (polars turning numpy arrays into columns): an exception raised by a signal handler in such a callback
    makes the library panic instead of unwinding."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    state = _state
    state.deferring += 1
    try:
        yield
    finally:
        state.deferring -= 1
    if not state.deferring and state.pending:
        state.pending = False
        raise Interrupted(state.received)
