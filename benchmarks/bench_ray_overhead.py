"""Benchmark ``ray_overhead``: what reporting and checkpointing through Ray Train cost per
epoch beyond the in-process backend's.

    .venv/bin/python benchmarks/bench_ray_overhead.py [--epochs 60]

The same job (a small VAE on digits' 1 437 training images) trains in-process and on one
Ray Train worker. The loop hands every epoch to its backend's ``save`` (metrics; a checkpoint
when due), and everything else an epoch does is the same code on both backends, so the cost
of distribution per epoch is the time spent in ``save``, measured inside the worker:

    ray_overhead = mean seconds in save per epoch (Ray) - the same in-process     target <= 0.1 s

This is wall time spent waiting and writing, not CPU work, and it does not depend on how
busy the machine is the way a difference of two total wall times does (also printed, for
information, with start-up excluded: (wall(E) - wall(1)) / (E - 1)). Measured at the
default cadence (``scaling.checkpoint_seconds``) and with a checkpoint every epoch (``0``),
on one worker and on two. Rows go to ``benchmarks/results.csv``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from results import row, write_rows

from genmodels.data import load_dataset
from genmodels.data.config import DataConfig
from genmodels.training.config import ScalingConfig
from genmodels.training.local import LocalContext
from genmodels.training.loop import TrainJob, train_worker
from genmodels.training.ray_adapter import RayContext

DEFAULT_CADENCE = ScalingConfig().checkpoint_seconds
OUT = Path(tempfile.mkdtemp(prefix="genmodels-bench-ray-"))


def timed_save(save: Callable, seconds: list[float]) -> Callable:
    def wrapped(metrics, write, final):
        t0 = time.perf_counter()
        save(metrics, write, final)
        seconds.append(time.perf_counter() - t0)

    return wrapped


class TimedLocal(LocalContext):
    def __init__(self, run_dir: Path, checkpoint_seconds: float) -> None:
        super().__init__(run_dir, __import__("torch").device("cpu"), log=lambda s: None, checkpoint_seconds=checkpoint_seconds)
        self.seconds: list[float] = []
        self.save = timed_save(super().save, self.seconds)


class TimedRay(RayContext):
    """Rank 0 writes its seconds in ``save`` to ``OUT/<run>.json`` when the run ends."""

    def __init__(self, checkpoint_seconds: float) -> None:
        super().__init__(checkpoint_seconds)
        self.seconds: list[float] = []
        self.save = timed_save(self._save_and_dump, self.seconds)

    def _save_and_dump(self, metrics, write, final) -> None:
        RayContext.save(self, metrics, write, final)
        if final and self.rank == 0:
            import ray.train

            (OUT / f"{ray.train.get_context().get_experiment_name()}.json").write_text(json.dumps(self.seconds + [0.0]))


def job(info, epochs: int) -> TrainJob:
    return TrainJob.create("vae", "vae", {"hidden": [256, 128], "latent_dim": 8, "prior": "standard"}, {"epochs": epochs, "batch_size": 128}, info, seed=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=60)
    args = ap.parse_args()
    from genmodels.training.ray_adapter import ensure_ray, train_ray

    data = load_dataset(DataConfig(name="digits"), seed=0)
    x, y, e = data.train.x, data.train.y, args.epochs
    ensure_ray()
    runs = [0]

    def local(epochs: int, cadence: float) -> tuple[float, list[float]]:
        runs[0] += 1
        ctx = TimedLocal(OUT / f"local{runs[0]}", cadence)
        t0 = time.perf_counter()
        train_worker(job(data.info, epochs), x, y, ctx)
        return time.perf_counter() - t0, ctx.seconds

    def ray(epochs: int, cadence: float, workers: int = 1) -> tuple[float, list[float]]:
        runs[0] += 1
        name = f"ray{runs[0]}"
        t0 = time.perf_counter()
        train_ray(job(data.info, epochs), x, y, str(OUT), name, workers, False, 1, checkpoint_seconds=cadence, context_cls=TimedRay)
        wall = time.perf_counter() - t0
        return wall, json.loads((OUT / f"{name}.json").read_text())[:-1]

    save, wall = {}, {}
    for label, fn in (
        ("local", lambda k: local(k, DEFAULT_CADENCE)),
        ("ray", lambda k: ray(k, DEFAULT_CADENCE)),
        ("local_every_epoch", lambda k: local(k, 0.0)),
        ("ray_every_epoch", lambda k: ray(k, 0.0)),
        ("ray_2_workers", lambda k: ray(k, DEFAULT_CADENCE, 2)),
    ):
        one, _ = fn(1)
        many, seconds = fn(e)
        save[label] = sum(seconds) / len(seconds)
        wall[label] = (many - one) / (e - 1)
        print(f"{label}: {save[label]:.4f} s in save per epoch (max {max(seconds):.3f}); wall {one:.1f} s for 1 epoch, {many:.1f} s for {e}", flush=True)
    overhead = save["ray"] - save["local"]
    every = save["ray_every_epoch"] - save["local_every_epoch"]
    two = save["ray_2_workers"] - save["local"]
    cadence = f"checkpoint_seconds {DEFAULT_CADENCE:g}"
    write_rows([
        row("ray_overhead", f"save_seconds_per_epoch_vs_local ({cadence}, 1 worker)", overhead, "s", "<= 0.1", overhead <= 0.1),
        row("ray_overhead", f"save_seconds_per_epoch_vs_local ({cadence}, 2 workers)", two, "s", "<= 0.1", two <= 0.1),
        row("ray_overhead", "save_seconds_per_epoch_vs_local (checkpoint every epoch, 1 worker)", every, "s"),
        row("ray_overhead", f"wall_per_epoch_difference ({cadence}, 1 worker; load-sensitive)", wall["ray"] - wall["local"], "s"),
    ])  # fmt: skip
    print(f"ray_overhead: {overhead:+.4f} s per epoch (1 worker), {two:+.4f} s (2 workers) at the default cadence "
          f"(target <= 0.1); {every:+.4f} s with a checkpoint every epoch; wall difference {wall['ray'] - wall['local']:+.3f} s per epoch")  # fmt: skip


if __name__ == "__main__":
    main()
