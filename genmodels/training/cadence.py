"""When the training loop writes a checkpoint: every ``checkpoint_seconds`` and after the last epoch.

A checkpoint costs a copy of the weights and optimizer state (and, on Ray Train, a report the
controller must collect, up to its polling interval), so writing one per epoch dominates
short epochs. Epochs are replayed exactly after a resume (per-epoch seeds, RNG state in
the checkpoint), so how often they are written changes what an interruption costs, never
the weights.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Cadence:
    """``due(final)``: True after the last epoch, or when ``seconds`` have passed since the last checkpoint."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        if seconds < 0:
            raise ValueError(f"checkpoint interval must be >= 0 seconds, got {seconds}")
        self.seconds, self.clock = seconds, clock
        self.last = clock()

    def due(self, final: bool) -> bool:
        now = self.clock()
        if final or self.seconds == 0 or now - self.last >= self.seconds:
            self.last = now
            return True
        return False
