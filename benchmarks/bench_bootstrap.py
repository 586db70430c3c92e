"""What the 95 % bootstrap intervals cost next to one evaluation, on cached features.

    python benchmarks/bench_bootstrap.py [--n 10000] [--d 2048] [--resamples 200]

Seeded features as in ``bench_metrics.py`` (real ~ N(0, I), samples scaled and shifted).

* **one evaluation**: FID, KID and PRDC point estimates by the suite's fastest path (the two
  float64 feature statistics and the Fréchet distance; PRDC with KID on its distance blocks),
  what an evaluation without intervals costs;
* **Gram matrices**: :class:`~genmodels.metrics.resampling.FeatureGeometry` (formed once; the
  suite then reads KID and PRDC at M = N from it);
* **bootstrap**: ``--resamples`` joint resamples of the real set and the samples, timed per
  metric (FID: two weighted covariances and one eigen-solve per resample; KID: weighted
  U-statistics, one matrix product per kernel for all resamples; PRDC: reweighted per-point
  values).

Times are CPU seconds of the process (run it with OMP_NUM_THREADS=1 so that they are also the
single-core wall times); prints the ratios; the figures go into docs/bench.md by hand.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time

import numpy as np
import torch

from genmodels.metrics import feature_statistics, frechet_distance, prdc_from_features
from genmodels.metrics.kid import SubsetKernelSums
from genmodels.metrics.resampling import BootstrapSpec, FeatureGeometry, intervals_from, prdc_points, resampled_values, subset_kid

PRDC = ("precision", "recall", "density", "coverage")


def clock(fn):  # noqa: ANN001, ANN201
    """CPU seconds of this process (robust to other load on a shared machine; with one BLAS
    thread it equals the wall time on an idle one), and the value; the wall time is printed."""
    start, wall = time.process_time(), time.perf_counter()
    value = fn()
    cpu = time.process_time() - start
    print(f"  ... {getattr(fn, '__name__', 'step')}: {cpu:.2f} s CPU, {time.perf_counter() - wall:.2f} s wall", flush=True)
    return cpu, value


def one_evaluation(real: np.ndarray, fake: np.ndarray, k: int, seed: int) -> dict[str, float]:
    """FID, KID and PRDC as the suite computes them without intervals (blocked, KID fused into PRDC)."""
    fid = frechet_distance(*feature_statistics(real), *feature_statistics(fake))
    sums = SubsetKernelSums(len(real), len(fake), real.shape[1], seed=seed)
    prdc = prdc_from_features(real, fake, k=k, kid=sums)
    return {"fid": fid, "kid": sums.result()[0], **prdc}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--d", type=int, default=2048)
    parser.add_argument("--resamples", type=int, default=200)
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    real = rng.standard_normal((args.n, args.d), dtype=np.float32)
    fake = (rng.standard_normal((args.n, args.d), dtype=np.float32) * 1.05 + 0.03).astype(np.float32)
    print(f"n={args.n} x {args.n}, d={args.d}, {args.resamples} resamples | {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()} | load average {os.getloadavg()[0]:.2f}")
    one_evaluation(real[:200], fake[:200], args.k, 0)  # warm-up: BLAS threads, imports

    t_eval, point = clock(lambda: one_evaluation(real, fake, args.k, 0))
    t_geom, geom = clock(lambda: FeatureGeometry(real, fake))
    t_kid, kid = clock(lambda: subset_kid(geom, 100, 1000, 0))
    t_points, pts = clock(lambda: prdc_points(geom, args.k, repeats=10, seed=0))
    spec = BootstrapSpec(args.resamples, 0.95, 0)
    rows = {}
    for name, wanted in (("FID", ("fid",)), ("KID", ("kid",)), ("PRDC", PRDC)):
        t, draws = clock(lambda w=wanted: resampled_values(geom, None, spec, pts, 10, w))
        estimates = {m: point[m] for m in draws}
        rows[name] = (t, intervals_from(draws, estimates, 0.95))
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

    print(f"\none evaluation (FID + KID + PRDC, blocked): {t_eval:.2f} s")
    print(f"  same values from the Gram matrices: KID {kid[0]:.6g} vs {point['kid']:.6g}; "
          + ", ".join(f"{m} {pts.means()[m]:.4f} vs {point[m]:.4f}" for m in PRDC))
    print(f"Gram matrices (formed once): {t_geom:.2f} s; KID from them {t_kid:.2f} s; PRDC per-point values {t_points:.2f} s")
    total_boot = sum(t for t, _ in rows.values())
    for name, (t, ci) in rows.items():
        shown = ", ".join(f"{m} [{lo:.4g}, {hi:.4g}]" for m, (lo, hi) in ci.items())
        print(f"bootstrap {name}: {t:.2f} s = {t / t_eval:.2f}x one evaluation ({t / args.resamples * 1000:.1f} ms per resample) | {shown}")
    setup = t_geom + t_kid + t_points
    print(f"bootstrap of FID, KID and PRDC: {total_boot:.2f} s = {total_boot / t_eval:.2f}x one evaluation; "
          f"with the Gram matrices and per-point values: {total_boot + setup:.2f} s = {(total_boot + setup) / t_eval:.2f}x")
    print(f"KID + PRDC only: {(rows['KID'][0] + rows['PRDC'][0] + setup):.2f} s = {(rows['KID'][0] + rows['PRDC'][0] + setup) / t_eval:.2f}x; "
          f"peak resident memory {peak_gb:.1f} GB")


if __name__ == "__main__":
    main()
