"""Checkpoint cadence: every ``checkpoint_seconds`` and after the last epoch; never a different result."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genmodels.training import checkpoint as ckpt
from genmodels.training.cadence import Cadence
from genmodels.training.local import LocalContext, train_local
from genmodels.training.loop import train_worker
from tests.training.test_loop import Crash, job, weights


class Ticks:
    """A clock that advances one second per reading."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_due_after_the_interval_and_always_at_the_end() -> None:
    cadence = Cadence(2.5, clock=Ticks())  # created at t=1; readings at t=2, 3, 4, ...
    assert [cadence.due(final=False) for _ in range(7)] == [False, False, True, False, False, True, False]
    assert cadence.due(final=True)  # the last epoch, however recent the previous checkpoint


def test_zero_seconds_is_every_epoch_and_negative_is_refused() -> None:
    cadence = Cadence(0.0, clock=lambda: 0.0)
    assert all(cadence.due(final=False) for _ in range(3))
    with pytest.raises(ValueError, match=">= 0"):
        Cadence(-1.0)


class SparseCrashingContext(LocalContext):
    """Checkpoints every second epoch (a clock ticking once per epoch), dies after ``crash_after`` epochs."""

    def __init__(self, run_dir: Path, crash_after: int) -> None:
        super().__init__(run_dir, torch.device("cpu"), log=lambda s: None)
        self.cadence = Cadence(2.0, clock=Ticks())
        self.crash_after = crash_after

    def save(self, metrics, write, final) -> None:  # noqa: ANN001
        super().save(metrics, write, final)
        if int(metrics["epoch"]) + 1 >= self.crash_after:
            raise Crash


def test_a_run_resumed_from_a_sparse_checkpoint_replays_the_epochs_since_to_the_same_weights(digits, tmp_path) -> None:
    x, y = digits.train.x[:256], digits.train.y[:256]
    full = train_local(job(5), x, y, tmp_path / "full")
    with pytest.raises(Crash):
        train_worker(job(5), x, y, SparseCrashingContext(tmp_path / "resumed", crash_after=4))
    kept = sorted(int(p.name.split("_")[-1]) for p in (tmp_path / "resumed").glob("checkpoint_*"))
    assert kept == [1, 3]  # epochs 0 and 2 were not checkpointed
    (tmp_path / "resumed" / "checkpoint_000003").rename(tmp_path / "dropped")  # as if killed before epoch 3's checkpoint
    resumed = train_local(job(5), x, y, tmp_path / "resumed")  # resumes after epoch 1: replays epochs 2..4
    assert [int(r["epoch"]) for r in ckpt.read_trainer_state(resumed)["history"]] == [0, 1, 2, 3, 4]
    a, b = weights(full), weights(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_long_interval_writes_only_the_final_checkpoint_and_the_same_weights(digits, tmp_path) -> None:
    x, y = digits.train.x[:256], digits.train.y[:256]
    every = train_local(job(3), x, y, tmp_path / "every")
    sparse = train_local(job(3), x, y, tmp_path / "sparse", checkpoint_seconds=1e9)
    assert [p.name for p in (tmp_path / "sparse").glob("checkpoint_*")] == ["checkpoint_000002"]
    assert len(ckpt.read_trainer_state(sparse)["history"]) == 3  # metrics of every epoch, in the one checkpoint
    a, b = weights(every), weights(sparse)
    assert all(torch.equal(a[k], b[k]) for k in a)
