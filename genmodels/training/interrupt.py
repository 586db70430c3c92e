"""Stop cleanly on SIGINT / SIGTERM: the signal becomes an exception at a safe point.

Inside :func:`stop_on_signals` the first SIGINT or SIGTERM raises
:class:`TrainingInterrupted` in the main thread, so every ``finally`` runs: temporary
folders are removed, the MLflow run is ended as KILLED (the exception's ``run_status``)
and the CLI prints one line and exits ``128 + signal`` (130 for SIGINT, 143 for SIGTERM).
Code that must not be cut in half (the swap of a finished folder into place) runs under
:func:`deferring`: a signal that arrives there is held and raised when the block ends.
Later signals of the same interruption are ignored, so the cleanup itself is never cut short
(SIGKILL still ends the process at once).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from genmodels.errors import GenmodelsError

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(GenmodelsError):
    """The run was stopped by a signal; its exit code is ``128 + signum``, the shell's convention."""

    run_status = "KILLED"  # how a tracker should end the run (see genmodels.tracking.runs.model_run)

    def __init__(self, signum: int, message: str | None = None) -> None:
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(message or f"interrupted by {signal.Signals(signum).name}")

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name

    def with_message(self, message: str) -> TrainingInterrupted:
        """The same interruption with a message that says what was stopped and how to go on."""
        return TrainingInterrupted(self.signum, message)


class _State:
    """Process-wide handler state (signal handlers are process-wide too)."""

    held = 0  # depth of deferring blocks that have started holding signals
    pending: int | None = None  # a signal received while held
    fired = False  # an interruption was raised: later signals are ignored


def _handler(signum: int, frame: FrameType | None) -> None:
    if _State.fired or _State.pending is not None:
        return
    if _State.held:
        _State.pending = signum
        return
    _State.fired = True
    raise TrainingInterrupted(signum)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGINT / SIGTERM into :class:`TrainingInterrupted` inside the block (main thread only;
    elsewhere a no-op). The previous handlers are restored afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    _State.held, _State.pending, _State.fired = 0, None, False
    for s in SIGNALS:
        signal.signal(s, _handler)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _State.held, _State.pending, _State.fired = 0, None, False


@contextmanager
def deferring() -> Iterator[Callable[[], None]]:
    """Yield ``hold``: once it is called, a signal waits until the block has ended, then raises.

    Calling ``hold`` just before a folder swap makes the swap complete even when a signal
    arrives during it; the work before ``hold`` stays interruptible.
    """
    holding = False

    def hold() -> None:
        nonlocal holding
        if not holding:
            holding = True
            _State.held += 1

    try:
        yield hold
    finally:
        if holding:
            _State.held -= 1
    if _State.held == 0 and _State.pending is not None and not _State.fired:
        signum, _State.pending, _State.fired = _State.pending, None, True
        raise TrainingInterrupted(signum)


@contextmanager
def held() -> Iterator[None]:
    """Hold signals for the whole block (see :func:`deferring`)."""
    with deferring() as hold:
        hold()
        yield
