"""Benchmark ``data_scaling``: time per epoch and peak memory against the number of training images.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_data_scaling.py [--sizes 1000,10000,100000] [--model vae] [--no-ray]

The model ``--model`` of ``params.yaml`` (its default config and ``fit``; ``select: last``,
so an epoch is training only) trains on the procedural ``shapes`` dataset (16x16, 256 levels)
with ``data.shapes.n_train`` set so that N images remain for training after the validation
split. Each N runs in a fresh subprocess (so its peak memory is its own), through the
project's loop (``train_worker`` with the in-process ``LocalContext``, default checkpoint
cadence), on one thread, timed in CPU seconds of the process after the first (warm-up)
epoch. Figures: CPU seconds per epoch at each N, the exponent b of the least-squares fit
``seconds = a N^b`` (target: linear, b <= 1.1), and each process's peak RSS next to its RSS
after the imports and the bytes of the training array.

With Ray (unless ``--no-ray``): the smallest and the largest N train one epoch on two Ray
Train workers in a fresh local Ray instance, and the driver samples each worker process's
unique memory (USS, pages no other process shares, so the object store's shared copy is not
counted) and RSS; the growth of a worker's peak USS between the two sizes, divided by the
growth of the training array, says how much of the array each worker holds privately (1.0:
the whole array; 1/workers: its shard). Rows go to ``benchmarks/results.csv``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
SIZE = 16  # image side of the shapes
TARGET = 1.1
RAY_WORKERS = 2


def job_and_data(model: str, n: int):
    """The model's job (select last) and the shapes data with ``n`` training images."""
    from genmodels.config import load_params
    from genmodels.data import load_dataset
    from genmodels.data.config import DataConfig
    from genmodels.training.loop import TrainJob

    p = load_params(ROOT / "params.yaml")
    cfg = DataConfig(name="shapes", val_fraction=p.data.val_fraction, shapes={"size": SIZE, "n_train": round(n / (1 - p.data.val_fraction)), "n_test": 10})
    data = load_dataset(cfg, p.seed)
    spec = p.spec(model)
    epochs = timed_epochs(n) + 1
    fit = spec.fit.model_copy(update={"epochs": epochs, "select": "last", "patience": None})
    return TrainJob(name=model, family=spec.family, model_config=spec.config, fit=fit, info=data.info, seed=p.seed), data


def timed_epochs(n: int) -> int:
    """Epochs timed after the warm-up: enough that small N is not measured on one short epoch."""
    return max(1, round(10_000 / n))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def child_local(model: str, n: int) -> dict:
    """One N in this (fresh) process: seconds per epoch and memory."""
    import psutil
    import torch

    from genmodels.training.config import ScalingConfig
    from genmodels.training.local import LocalContext
    from genmodels.training.loop import train_worker

    torch.set_num_threads(1)
    rss_imports = psutil.Process().memory_info().rss / 2**20
    t0 = time.process_time()
    job, data = job_and_data(model, n)
    data_seconds = time.process_time() - t0
    x, y = data.train.x, data.train.y
    rss_data = psutil.Process().memory_info().rss / 2**20
    marks: list[float] = []

    class Timed(LocalContext):
        def save(self, metrics, write, final) -> None:
            super().save(metrics, write, final)
            marks.append(time.process_time())

    with tempfile.TemporaryDirectory(prefix="genmodels-bench-scaling-") as work:
        train_worker(job, x, y, Timed(Path(work), torch.device("cpu"), log=lambda s: None, checkpoint_seconds=ScalingConfig().checkpoint_seconds))
    return {
        "n": len(x), "epochs_timed": len(marks) - 1, "epoch_seconds": (marks[-1] - marks[0]) / (len(marks) - 1),
        "data_seconds": data_seconds, "x_mb": x.nbytes / 2**20, "rss_after_imports_mb": rss_imports,
        "rss_after_data_mb": rss_data, "peak_rss_mb": peak_rss_mb(),
    }  # fmt: skip


def child_ray(model: str, sizes: list[int]) -> list[dict]:
    """Each N for one epoch on Ray Train workers, sampling every worker's memory from the driver."""
    import psutil

    from genmodels.training import ray_adapter
    from genmodels.training.ray_adapter import train_ray

    ray_adapter._init("local")  # a new local instance, never someone else's cluster on this machine
    out = []
    with tempfile.TemporaryDirectory(prefix="genmodels-bench-scaling-ray-") as work:
        for n in sizes:
            job, data = job_and_data(model, n)
            job = dataclasses.replace(job, fit=job.fit.model_copy(update={"epochs": 1}))
            peaks: dict[int, dict[str, float]] = {}
            done = threading.Event()

            def sample(peaks: dict[int, dict[str, float]], done: threading.Event) -> None:
                while not done.is_set():
                    for proc in psutil.Process().children(recursive=True):
                        try:
                            if "RayTrainWorker" not in " ".join(proc.cmdline()):
                                continue
                            mem = proc.memory_full_info()
                        except (psutil.NoSuchProcess, psutil.AccessDenied):
                            continue
                        peak = peaks.setdefault(proc.pid, {"uss_mb": 0.0, "rss_mb": 0.0})
                        peak["uss_mb"] = max(peak["uss_mb"], mem.uss / 2**20)
                        peak["rss_mb"] = max(peak["rss_mb"], mem.rss / 2**20)
                    time.sleep(0.2)

            thread = threading.Thread(target=sample, args=(peaks, done), daemon=True)
            thread.start()
            t0 = time.perf_counter()
            train_ray(job, data.train.x, data.train.y, work, f"scaling-{n}", RAY_WORKERS, False, 1.0)
            wall = time.perf_counter() - t0
            done.set()
            thread.join()
            workers = sorted(peaks.values(), key=lambda p: -p["uss_mb"])[:RAY_WORKERS]
            out.append({"n": len(data.train.x), "x_mb": data.train.x.nbytes / 2**20, "wall": wall,
                        "worker_peak_uss_mb": max(w["uss_mb"] for w in workers), "worker_peak_rss_mb": max(w["rss_mb"] for w in workers),
                        "workers_seen": len(peaks)})  # fmt: skip
    return out


def run_child(*args: str) -> dict | list:
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI")}
    env.update(OMP_NUM_THREADS="1", RAY_USAGE_STATS_ENABLED="0")
    out = subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,100000", help="training images per run")
    ap.add_argument("--model", default="vae", help="a model of params.yaml (its family and default config)")
    ap.add_argument("--no-ray", action="store_true", help="skip the Ray worker memory measurement")
    ap.add_argument("--no-write", action="store_true", help="print only; leave benchmarks/results.csv alone")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--ray-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.child is not None:
        print(json.dumps(child_local(args.model, args.child)))
        return
    if args.ray_child:
        print(json.dumps(child_ray(args.model, sizes)))
        return

    import numpy as np
    from results import row, write_rows

    start = time.perf_counter()
    runs = []
    for n in sizes:
        t0 = time.perf_counter()
        r = run_child("--model", args.model, "--child", str(n))
        runs.append(r)
        print(
            f"N={r['n']}: {r['epoch_seconds']:.3f} CPU s/epoch ({r['epochs_timed']} timed), data drawn in {r['data_seconds']:.1f} s; "
            f"train array {r['x_mb']:.1f} MiB; RSS after imports {r['rss_after_imports_mb']:.0f} MiB, after data {r['rss_after_data_mb']:.0f} MiB, "
            f"peak {r['peak_rss_mb']:.0f} MiB; {time.perf_counter() - t0:.0f} s wall",
            flush=True,
        )
    n = np.array([r["n"] for r in runs], dtype=float)
    t = np.array([r["epoch_seconds"] for r in runs])
    exponent = float(np.polyfit(np.log(n), np.log(t), 1)[0])
    print(f"fitted exponent of time per epoch vs N: {exponent:.3f} (target <= {TARGET})", flush=True)
    rows = [
        row(
            "data_scaling",
            f"time_exponent ({args.model} on shapes {SIZE}x{SIZE}, N={'/'.join(str(int(v)) for v in n)})",
            exponent,
            "",
            f"<= {TARGET}",
            exponent <= TARGET,
        )
    ]
    for r in runs:
        rows += [
            row("data_scaling", f"epoch_cpu_seconds N={r['n']}", r["epoch_seconds"], "s"),
            row("data_scaling", f"peak_rss N={r['n']}", r["peak_rss_mb"], "MiB"),
            row("data_scaling", f"peak_rss_above_imports N={r['n']}", r["peak_rss_mb"] - r["rss_after_imports_mb"], "MiB"),
            row("data_scaling", f"train_array N={r['n']}", r["x_mb"], "MiB"),
        ]
    if len(runs) > 1:
        a, b = runs[0], runs[-1]
        copies = ((b["peak_rss_mb"] - b["rss_after_imports_mb"]) - (a["peak_rss_mb"] - a["rss_after_imports_mb"])) / (b["x_mb"] - a["x_mb"])
        print(f"in-process: peak memory grows by {copies:.2f} x the training array's growth", flush=True)
        rows.append(row("data_scaling", "in_process_peak_rss_growth_per_train_array_growth", copies, "x"))
    if not args.no_ray and len(sizes) > 1:
        t0 = time.perf_counter()
        small, large = run_child("--model", args.model, "--ray-child", "--sizes", f"{sizes[0]},{sizes[-1]}")
        share = (large["worker_peak_uss_mb"] - small["worker_peak_uss_mb"]) / (large["x_mb"] - small["x_mb"])
        for r in (small, large):
            print(
                f"Ray, {RAY_WORKERS} workers, N={r['n']}: worker peak USS {r['worker_peak_uss_mb']:.0f} MiB, peak RSS {r['worker_peak_rss_mb']:.0f} MiB "
                f"(train array {r['x_mb']:.1f} MiB, shard {r['x_mb'] / RAY_WORKERS:.1f} MiB; {r['workers_seen']} worker processes seen, {r['wall']:.0f} s)",
                flush=True,
            )
        print(
            f"Ray: a worker's private memory grows by {share:.2f} x the training array's growth (its shard: {1 / RAY_WORKERS:.2f}); "
            f"{time.perf_counter() - t0:.0f} s wall",
            flush=True,
        )
        rows += [
            row(
                "data_scaling",
                f"ray_worker_private_share_of_train_array ({RAY_WORKERS} workers)",
                share,
                "x",
                f"<= {1 / RAY_WORKERS:g} (its shard)",
                share <= 1 / RAY_WORKERS + 0.1,
            ),
            row("data_scaling", f"ray_worker_peak_uss N={large['n']}", large["worker_peak_uss_mb"], "MiB"),
            row("data_scaling", f"ray_worker_peak_uss N={small['n']}", small["worker_peak_uss_mb"], "MiB"),
        ]
    if not args.no_write:
        write_rows(rows)
    print(f"bench_data_scaling: {time.perf_counter() - start:.0f} s wall", flush=True)


if __name__ == "__main__":
    main()
