"""Benchmark genmodels.metrics against straightforward reference implementations.

    python benchmarks/bench_metrics.py [--n 10000] [--d 2048] [--classes 1000]

Random seeded features (real ~ N(0, I), fake slightly scaled and shifted) and logits.
Each metric is timed once (after a tiny warm-up call) for our implementation and for a
reference written the obvious way, following torch-fidelity 0.4.0's algorithms
(np.cov statistics, numpy ``eigvals`` FID, per-subset float32 KID loop, torch IS) and
pytorch-fid's ``scipy.linalg.sqrtm`` FID; the PRDC reference builds the full distance
matrices with ``torch.cdist`` like torch-fidelity's precision/recall. The last row also
times PRDC with KID fed from PRDC's Gram blocks (``SubsetKernelSums``), against the
reference PRDC + KID. Timings on a shared machine are noisy: the load average is
printed alongside, ours and the reference alternate, and ``--repeat`` keeps the best.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.linalg
import torch
from results import row, write_rows

from genmodels.metrics import (
    feature_statistics,
    frechet_distance,
    inception_score,
    kid_from_features,
    prdc_from_features,
)
from genmodels.metrics.kid import SubsetKernelSums

KID_SEED = 0


# ----------------------------------------------------------------------------- references
def ref_statistics(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.mean(x, axis=0), np.cov(x, rowvar=False)


def ref_fid_eigvals(s1: tuple, s2: tuple) -> float:
    """torch-fidelity 0.4.0: sum of sqrt of the (complex) eigenvalues of S1 S2."""
    (mu1, sigma1), (mu2, sigma2) = s1, s2
    diff = mu1 - mu2
    tr_covmean = np.sum(np.sqrt(np.linalg.eigvals(sigma1.dot(sigma2))).real)
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)


def ref_fid_sqrtm(s1: tuple, s2: tuple) -> float:
    """pytorch-fid: scipy sqrtm of S1 S2 (with its epsilon retry), real part of the trace."""
    (mu1, sigma1), (mu2, sigma2) = s1, s2
    covmean = scipy.linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * 1e-6
        covmean = scipy.linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean.real))


def ref_kid(real: np.ndarray, fake: np.ndarray, subsets: int = 100, m: int = 1000) -> tuple[float, float]:
    """torch-fidelity 0.4.0's loop: three full float32 kernel matrices per subset."""
    rng = np.random.RandomState(KID_SEED)
    gamma = 1.0 / real.shape[1]
    mmds = np.zeros(subsets)
    for s in range(subsets):
        x = real[rng.choice(len(real), m, replace=False)]
        y = fake[rng.choice(len(fake), m, replace=False)]
        k_xx = (x @ x.T * gamma + 1) ** 3
        k_yy = (y @ y.T * gamma + 1) ** 3
        k_xy = (x @ y.T * gamma + 1) ** 3
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
        mmds[s] = within - 2 * k_xy.sum() / (m * m)
    return float(np.mean(mmds)), float(np.std(mmds))


def ref_inception_score(logits: np.ndarray, splits: int = 10, seed: int = 0) -> tuple[float, float]:
    x = torch.from_numpy(logits)[np.random.RandomState(seed).permutation(len(logits))].double()
    p, log_p = x.softmax(dim=1), x.log_softmax(dim=1)
    n, scores = len(x), []
    for i in range(splits):
        part = slice(i * n // splits, (i + 1) * n // splits)
        chunk, log_chunk = p[part], log_p[part]
        marginal = chunk.mean(dim=0, keepdim=True)
        scores.append((chunk * (log_chunk - marginal.log())).sum(dim=1).mean().exp().item())
    return float(np.mean(scores)), float(np.std(scores))


def prdc_and_kid(real: np.ndarray, fake: np.ndarray) -> tuple[dict[str, float], tuple[float, float]]:
    sums = SubsetKernelSums(len(real), len(fake), real.shape[1], seed=KID_SEED)
    return prdc_from_features(real, fake, k=5, kid=sums), sums.result()


def ref_prdc(real: np.ndarray, fake: np.ndarray, k: int = 5) -> dict[str, float]:
    """Full n x n distance matrices (torch.cdist) and Naeem et al.'s formulas."""
    r, f = torch.from_numpy(real), torch.from_numpy(fake)
    real_radii = torch.cdist(r, r).kthvalue(k + 1, dim=1).values  # +1: the point itself
    fake_radii = torch.cdist(f, f).kthvalue(k + 1, dim=1).values
    dist = torch.cdist(r, f)
    inside_real = dist < real_radii[:, None]
    return {
        "precision": inside_real.any(dim=0).double().mean().item(),
        "recall": (dist < fake_radii[None, :]).any(dim=1).double().mean().item(),
        "density": inside_real.sum().item() / (k * len(fake)),
        "coverage": (dist.min(dim=1).values < real_radii).double().mean().item(),
    }


# ----------------------------------------------------------------------------- harness
def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Best wall time of ``repeat`` calls (the minimum is the least noisy estimate)."""
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def timed_pair(ours: Callable[[], Any], ref: Callable[[], Any], repeat: int) -> tuple[float, Any, float, Any]:
    """Alternate ours/reference ``repeat`` times so load changes hit both alike."""
    t_ours = t_ref = float("inf")
    for _ in range(repeat):
        t, ours_value = timed(ours)
        t_ours = min(t_ours, t)
        t, ref_value = timed(ref)
        t_ref = min(t_ref, t)
    return t_ours, ours_value, t_ref, ref_value


def fmt(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(f"{k[:3]}={v:.4f}" for k, v in value.items())
    if isinstance(value, tuple):
        return f"{value[0]:.6g} ± {value[1]:.3g}"
    return f"{value:.6f}" if isinstance(value, float) else str(value)


def warm_up() -> None:
    """Trigger lazy initialisation (BLAS/LAPACK threads, imports) outside the timings."""
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((64, 8), dtype=np.float32), rng.standard_normal((64, 8), dtype=np.float32)
    s1, s2 = feature_statistics(x), feature_statistics(y)
    frechet_distance(*s1, *s2), ref_fid_eigvals(s1, s2), ref_fid_sqrtm(s1, s2)
    kid_from_features(x, y, subsets=2, subset_size=16), ref_kid(x, y, subsets=2, m=16)
    inception_score(x, splits=2), ref_inception_score(x, splits=2)
    prdc_from_features(x, y), ref_prdc(x, y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--d", type=int, default=2048)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=1, help="best of R runs (slow FID refs: 1)")
    parser.add_argument("--skip-sqrtm", action="store_true", help="skip pytorch-fid's sqrtm FID")
    args = parser.parse_args()
    rep = max(1, args.repeat)

    rng = np.random.default_rng(0)
    real = rng.standard_normal((args.n, args.d), dtype=np.float32)
    fake = (rng.standard_normal((args.n, args.d), dtype=np.float32) * 1.05 + 0.03).astype(np.float32)
    logits = (rng.standard_normal((args.n, args.classes), dtype=np.float32) * 4).astype(np.float32)
    print(f"n={args.n} d={args.d} classes={args.classes} | {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, torch {torch.__version__}, "
          f"numpy {np.__version__} | best of {rep} | load average before: {os.getloadavg()[0]:.2f}")
    warm_up()

    rows = []  # (metric, ours_s, our_value, ref_name, ref_s, ref_value)
    t_ours, (s_real, s_fake), t_ref, (r_real, r_fake) = timed_pair(
        lambda: (feature_statistics(real), feature_statistics(fake)),
        lambda: (ref_statistics(real), ref_statistics(fake)), rep)
    max_diff = max(np.abs(s_real[1] - r_real[1]).max(), np.abs(s_fake[1] - r_fake[1]).max())
    rows.append(("statistics x2", t_ours, "float64", "np.cov (torch-fidelity)", t_ref,
                 f"max|dSigma|={max_diff:.1e}"))

    t_ours, fid = timed(lambda: frechet_distance(*s_real, *s_fake), rep)
    t_ref, fid_ref = timed(lambda: ref_fid_eigvals(r_real, r_fake))
    rows.append(("FID", t_ours, fid, "eigvals (torch-fidelity)", t_ref, fid_ref))
    if not args.skip_sqrtm:
        t_ref, fid_sqrtm = timed(lambda: ref_fid_sqrtm(r_real, r_fake))
        rows.append(("FID", t_ours, fid, "sqrtm (pytorch-fid)", t_ref, fid_sqrtm))

    t_ours, kid, t_kid_ref, kid_ref = timed_pair(
        lambda: kid_from_features(real, fake, seed=KID_SEED), lambda: ref_kid(real, fake), rep)
    rows.append(("KID 100x1000", t_ours, kid, "float32 loop (torch-fidelity)", t_kid_ref, kid_ref))

    t_ours, isc, t_ref, isc_ref = timed_pair(
        lambda: inception_score(logits), lambda: ref_inception_score(logits), rep)
    rows.append(("IS 10 splits", t_ours, isc, "torch softmax (torch-fidelity)", t_ref, isc_ref))

    t_ours, prdc, t_ref, prdc_ref = timed_pair(
        lambda: prdc_from_features(real, fake, k=5), lambda: ref_prdc(real, fake, k=5), rep)
    rows.append(("PRDC k=5", t_ours, prdc, "full torch.cdist", t_ref, prdc_ref))
    t_shared, (_, kid_shared) = timed(lambda: prdc_and_kid(real, fake), rep)
    rows.append(("PRDC + KID (shared Gram)", t_shared, kid_shared, "ref PRDC + ref KID",
                 t_ref + t_kid_ref, kid_ref))

    print(f"\n| metric | ours (s) | reference | ref (s) | speed-up | ours value | reference value |")
    print("|---|---:|---|---:|---:|---|---|")
    for metric, ours_s, value, ref_name, ref_s, ref_value in rows:
        print(f"| {metric} | {ours_s:.2f} | {ref_name} | {ref_s:.2f} | {ref_s / ours_s:.1f}x "
              f"| {fmt(value)} | {fmt(ref_value)} |")
    ours = {r[0]: r[1] for r in rows}  # our time once per metric
    ref = {r[0]: r[4] for r in rows if r[3] != "sqrtm (pytorch-fid)"}
    base = ["statistics x2", "FID", "IS 10 splits"]
    ours_separate = sum(ours[m] for m in base + ["KID 100x1000", "PRDC k=5"])
    ours_shared = sum(ours[m] for m in base + ["PRDC + KID (shared Gram)"])
    ref_total = sum(ref[m] for m in base + ["KID 100x1000", "PRDC k=5"])
    for label, total in (("separate calls", ours_separate), ("KID on PRDC's Gram", ours_shared)):
        print(f"| **total** stats+FID+KID+IS+PRDC, {label} | {total:.2f} | torch-fidelity-style suite "
              f"| {ref_total:.2f} | {ref_total / total:.1f}x | | |")
    ours_total = ours_shared
    strict = 1.2 + 3.0 + 5.8  # torch-fidelity's quoted stats + FID + KID seconds (brief)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}; quoted torch-fidelity stats+FID+KID "
          f"on this machine class: {strict:.1f} s (ratio to our total: {strict / ours_total:.2f}x)")
    # results rows: the suite as it runs (KID on PRDC's Gram blocks) against the references, which
    # follow torch-fidelity 0.4.0's algorithms (torch-fidelity itself needs torchvision: not importable here)
    pairs = [(fid, fid_ref), (kid[0], kid_ref[0]), (kid_shared[0], kid_ref[0]), (isc[0], isc_ref[0])]
    pairs += [(prdc[k], prdc_ref[k]) for k in prdc_ref]
    max_diff = max(abs(a - b) for a, b in pairs)
    speedup = ref_total / ours_total
    size = f"n={args.n}, d={args.d}"
    write_rows([
        row("metric_suite", f"speed-up, IS+FID+KID+PRDC vs references following torch-fidelity 0.4.0's algorithms ({size})", speedup, "x", ">= 2", speedup >= 2),
        row("metric_suite", f"max abs difference from those references, FID/KID/IS/PRDC ({size})", max_diff, "", "<= 1e-6", max_diff <= 1e-6),
        row("metric_suite", f"suite seconds ({size})", ours_total, "s"),
        row("metric_suite", f"reference seconds ({size})", ref_total, "s"),
    ])


if __name__ == "__main__":
    main()
