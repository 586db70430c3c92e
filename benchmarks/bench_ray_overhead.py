"""Benchmark ``ray_overhead``: what Ray Train adds per epoch over the in-process backend.

    .venv/bin/python benchmarks/bench_ray_overhead.py [--epochs 101] [--repeat 2]

The same job (a small VAE on digits' 1 437 training images, the default ``fit`` otherwise)
trains with the in-process loop and with one Ray Train worker, for 1 and for ``--epochs``
epochs; start-up (worker group, process group, first restore) cancels in the difference:

    per_epoch(backend) = (wall(E epochs) - wall(1 epoch)) / (E - 1)
    ray_overhead       = per_epoch(ray) - per_epoch(local)        target <= 0.1 s

Measured with the default checkpoint cadence (``scaling.checkpoint_seconds``) and with a
checkpoint every epoch (``checkpoint_seconds: 0``: what one checkpoint report costs), and
with two workers (information: each rank computes half a batch and all-reduces gradients).
Each wall is the best of ``--repeat`` runs. Rows go to ``benchmarks/results.csv``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from results import row, write_rows

from genmodels.data import load_dataset
from genmodels.data.config import DataConfig
from genmodels.training.config import ScalingConfig
from genmodels.training.local import train_local
from genmodels.training.loop import TrainJob

DEFAULT_CADENCE = ScalingConfig().checkpoint_seconds


def job(info, epochs: int) -> TrainJob:
    return TrainJob.create("vae", "vae", {"hidden": [256, 128], "latent_dim": 8, "prior": "standard"}, {"epochs": epochs, "batch_size": 128}, info, seed=0)


def best_wall(fn, repeat: int) -> float:
    walls = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
    return min(walls)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=101)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    from genmodels.training.ray_adapter import ensure_ray, train_ray

    data = load_dataset(DataConfig(name="digits"), seed=0)
    x, y = data.train.x, data.train.y
    work = Path(tempfile.mkdtemp(prefix="genmodels-bench-ray-"))
    ensure_ray()
    n = [0]

    def fresh() -> str:  # a new run name each time: nothing is resumed
        n[0] += 1
        return f"run{n[0]}"

    def local(epochs: int, cadence: float) -> float:
        return best_wall(lambda: train_local(job(data.info, epochs), x, y, work / fresh(), checkpoint_seconds=cadence), args.repeat)

    def ray(epochs: int, cadence: float, workers: int = 1) -> float:
        run = lambda: train_ray(job(data.info, epochs), x, y, str(work), fresh(), workers, False, 1, checkpoint_seconds=cadence)
        return best_wall(run, args.repeat)

    e = args.epochs
    per_epoch = {}
    for label, fn in (
        ("local", lambda k: local(k, DEFAULT_CADENCE)),
        ("ray", lambda k: ray(k, DEFAULT_CADENCE)),
        ("local_every_epoch", lambda k: local(k, 0.0)),
        ("ray_every_epoch", lambda k: ray(k, 0.0)),
        ("ray_2_workers", lambda k: ray(k, DEFAULT_CADENCE, 2)),
    ):
        one, many = fn(1), fn(e)
        per_epoch[label] = (many - one) / (e - 1)
        print(f"{label}: 1 epoch {one:.2f} s, {e} epochs {many:.2f} s -> {per_epoch[label]:.4f} s per epoch", flush=True)
    overhead = per_epoch["ray"] - per_epoch["local"]
    every = per_epoch["ray_every_epoch"] - per_epoch["local_every_epoch"]
    cadence = f"checkpoint_seconds {DEFAULT_CADENCE:g}"
    rows = [
        row("ray_overhead", f"per_epoch_vs_local ({cadence}, 1 worker)", overhead, "s", "<= 0.1", overhead <= 0.1),
        row("ray_overhead", "per_epoch_vs_local (checkpoint every epoch, 1 worker)", every, "s"),
        row("ray_overhead", "local_per_epoch (VAE on digits)", per_epoch["local"], "s"),
        row("ray_overhead", f"ray_per_epoch_2_workers ({cadence})", per_epoch["ray_2_workers"], "s"),
    ]
    write_rows(rows)
    print(f"ray_overhead: {overhead:+.4f} s per epoch at the default cadence (target <= 0.1), {every:+.4f} s with a checkpoint every epoch")


if __name__ == "__main__":
    main()
