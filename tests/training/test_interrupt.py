"""SIGINT / SIGTERM become TrainingInterrupted at safe points: real signals sent to this process."""

from __future__ import annotations

import os
import signal
import time

import pytest

from genmodels.errors import GenmodelsError
from genmodels.training.interrupt import TrainingInterrupted, deferring, held, stop_on_signals


def deliver(signum: int) -> None:
    """Send ``signum`` to this process and give Python a few bytecodes to run its handler."""
    os.kill(os.getpid(), signum)
    for _ in range(100):
        time.sleep(0.001)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_raises_a_user_error_with_the_shells_exit_code(signum: int, code: int) -> None:
    with pytest.raises(TrainingInterrupted) as info, stop_on_signals():
        deliver(signum)
    assert isinstance(info.value, GenmodelsError) and info.value.exit_code == code
    assert str(info.value) == f"interrupted by {signal.Signals(signum).name}" and info.value.run_status == "KILLED"


def test_the_previous_handlers_come_back() -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with stop_on_signals():
        assert signal.getsignal(signal.SIGTERM) not in before[:1]
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_a_held_block_finishes_before_the_signal_takes_effect() -> None:
    done = []
    with pytest.raises(TrainingInterrupted, match="SIGTERM"), stop_on_signals():
        with held():
            deliver(signal.SIGTERM)
            done.append("swap")  # still runs: the signal waits for the end of the block
        done.append("after")  # never runs
    assert done == ["swap"]


def test_work_before_hold_stays_interruptible() -> None:
    done = []
    with pytest.raises(TrainingInterrupted), stop_on_signals(), deferring() as hold:
        deliver(signal.SIGINT)
        done.append("training")  # not reached: hold() was not called yet
        hold()
    assert done == []


def test_a_second_signal_does_not_cut_the_cleanup_short() -> None:
    cleaned = []
    with pytest.raises(TrainingInterrupted, match="SIGINT"), stop_on_signals():
        try:
            deliver(signal.SIGINT)
        finally:
            deliver(signal.SIGTERM)  # ignored: the first interruption is being handled
            cleaned.append(True)
    assert cleaned == [True]
