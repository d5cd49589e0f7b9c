"""Tests for scoring.signals: signals as Interrupted in the main thread, and blocks that defer them."""

from __future__ import annotations

import os
import signal

import pytest

from scoring.signals import Interrupted, deferred, stop_on_signals


def test_a_signal_raises_interrupted_with_the_shells_exit_code() -> None:
    with pytest.raises(Interrupted) as caught, stop_on_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        signal.sigtimedwait([], 0)  # a point where the handler runs, if the kill has not been handled yet
        raise AssertionError("not interrupted")
    assert (caught.value.name, caught.value.exit_code) == ("SIGTERM", 143)


def test_a_deferred_block_runs_to_its_end_and_then_raises() -> None:
    reached = []
    with pytest.raises(Interrupted) as caught, stop_on_signals():
        with deferred():
            os.kill(os.getpid(), signal.SIGINT)
            sum(range(1000))  # bytecode runs: the handler has run by now
            reached.append("end of the block")
        reached.append("after the block")
    assert reached == ["end of the block"] and caught.value.exit_code == 130


def test_nested_deferred_blocks_raise_at_the_outermost_end_and_later_signals_are_ignored() -> None:
    reached = []
    with pytest.raises(Interrupted) as caught, stop_on_signals():
        with deferred():
            with deferred():
                os.kill(os.getpid(), signal.SIGTERM)
                sum(range(1000))
            reached.append("inner ended")
            os.kill(os.getpid(), signal.SIGINT)  # a second signal: ignored
            sum(range(1000))
            reached.append("outer ending")
    assert reached == ["inner ended", "outer ending"] and caught.value.name == "SIGTERM"


def test_handlers_are_restored_and_nothing_is_pending_afterwards() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted), stop_on_signals():
        with deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            sum(range(1000))
    assert signal.getsignal(signal.SIGTERM) == before
    with stop_on_signals(), deferred():  # a fresh run: no signal left over from the last one
        pass
