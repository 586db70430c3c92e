"""In-process backend: the same loop as a Ray worker, rank 0 of 1, no Ray at all.

A checkpoint (every ``checkpoint_seconds`` and after the last epoch, see
:mod:`genmodels.training.cadence`) is written to a temporary folder and renamed into place with
signals held (:func:`genmodels.training.interrupt.held`), so an interruption leaves the
newest complete checkpoint to resume from and never half of one.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from genmodels.atomic import staged_dir
from genmodels.training import checkpoint as ckpt
from genmodels.training.cadence import Cadence
from genmodels.training.interrupt import held
from genmodels.training.loop import Restored, TrainJob, describe, restore_dir, train_worker

KEEP = 2  # checkpoints kept per run


class LocalContext:
    """Checkpoints to ``<run_dir>/checkpoint_<epoch>``; resumes from the newest one."""

    rank = 0
    world_size = 1

    def __init__(
        self, run_dir: Path, device: torch.device, log: Callable[[str], None] | None = None, checkpoint_seconds: float = 0.0,
    ) -> None:  # fmt: skip
        self.run_dir = run_dir
        self.device = device
        self.cadence = Cadence(checkpoint_seconds)
        self.log = log or (lambda s: print(s, file=sys.stderr, flush=True))

    def checkpoints(self) -> list[Path]:
        return sorted(p for p in self.run_dir.glob("checkpoint_*") if (p / ckpt.TRAINER_FILE).is_file())

    def restore(self) -> Restored | None:
        for partial in self.run_dir.glob(".checkpoint_*"):  # staged by a process killed (SIGKILL) while writing it
            shutil.rmtree(partial, ignore_errors=True)
        found = self.checkpoints()
        if not found:
            return None
        latest = found[-1]
        self.log(f"resuming from {latest}")
        return restore_dir(latest, self.device)

    def save(self, metrics: dict[str, float], write: Callable[[Path], None], final: bool) -> None:
        if not self.cadence.due(final):
            self.log(describe(metrics))
            return
        with held():
            with staged_dir(self.run_dir / f"checkpoint_{int(metrics['epoch']):06d}") as tmp:
                write(tmp)
            for old in self.checkpoints()[:-KEEP]:  # out of the listing at once (a rename), then deleted
                trash = old.with_name(f".{old.name}.old")
                old.rename(trash)
                shutil.rmtree(trash, ignore_errors=True)
        self.log(describe(metrics))


def train_local(
    job: TrainJob, x: np.ndarray, y: np.ndarray | None, run_dir: Path, device: str = "cpu", checkpoint_seconds: float = 0.0,
) -> Path:  # fmt: skip
    """Train in this process; returns the folder of the final checkpoint."""
    ctx = LocalContext(run_dir, torch.device(device), checkpoint_seconds=checkpoint_seconds)
    train_worker(job, x, y, ctx)
    return ctx.checkpoints()[-1]
