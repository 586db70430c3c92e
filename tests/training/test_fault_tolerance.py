"""A Ray Train worker killed mid-run: ``max_failures`` restarts the group from the last checkpoint
and the run ends with the weights of an uninterrupted run (bit for bit, on CPU).

Why they can be equal: every epoch's data order and noise come from seeds of (seed, epoch,
rank), the global RNG state travels in the checkpoint, rank 0's weights are broadcast after
a restore, and gloo's all-reduce of two ranks is an exact sum. So the restarted group replays
the epochs since the checkpoint exactly as the first group ran them.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import torch

from genmodels.training import checkpoint as ckpt
from tests.training.test_loop import job, weights

ray = pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")
pytestmark = [pytest.mark.integration, pytest.mark.slow]

EPOCHS = 12  # enough epochs that the run is still going when its second checkpoint appears


@pytest.fixture(scope="module")
def ray_local():
    from genmodels.training.ray_adapter import ensure_ray

    ensure_ray()
    yield
    ray.shutdown()


def train_workers() -> list[psutil.Process]:
    """The Ray Train worker processes of the Ray instance this test process started (its
    raylet's children; Ray titles them ``ray::RayTrainWorker...``)."""
    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if any("RayTrainWorker" in part for part in proc.cmdline()):
                found.append(proc)
        except psutil.NoSuchProcess:
            continue
    return found


def ray_checkpoints(run: Path) -> list[Path]:
    return sorted(run.glob("checkpoint_*"))


def test_a_killed_worker_is_restarted_from_the_last_checkpoint_and_the_run_ends_as_if_uninterrupted(ray_local, digits, tmp_path) -> None:
    from genmodels.training.ray_adapter import train_ray

    x, y = digits.train.x[:256], digits.train.y[:256]
    kw = {"num_workers": 2, "use_gpu": False, "cpus_per_worker": 1, "checkpoint_seconds": 0}
    reference = train_ray(job(EPOCHS), x, y, str(tmp_path), "uninterrupted", **kw)

    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["final"] = train_ray(job(EPOCHS), x, y, str(tmp_path), "killed", max_failures=1, **kw)
        except BaseException as exc:  # noqa: BLE001  (reported by the assertion below)
            result["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    run_dir = tmp_path / "killed"
    deadline = time.monotonic() + 240
    while len(ray_checkpoints(run_dir)) < 2:  # a few epochs in, with a checkpoint to go back to
        assert thread.is_alive(), f"the run ended before a worker could be killed: {result}"
        assert time.monotonic() < deadline, "no checkpoint within 240 s"
        time.sleep(0.05)
    victims = train_workers()
    assert len(victims) == 2, f"expected the run's 2 workers, found {[p.pid for p in victims]}"
    os.kill(victims[-1].pid, signal.SIGKILL)
    thread.join(timeout=300)
    assert not thread.is_alive(), "the run did not finish within 300 s of the kill"
    assert "error" not in result, f"the run failed instead of restarting: {result.get('error')!r}"

    victims[-1].wait(timeout=10)  # the killed process is really gone ...
    final = Path(result["final"])
    history = ckpt.read_trainer_state(final)["history"]
    assert [int(r["epoch"]) for r in history] == list(range(EPOCHS))  # ... and every epoch is in the history once
    a, b = weights(reference), weights(final)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=0, atol=0, msg=lambda m, k=k: f"{k}: {m}")
