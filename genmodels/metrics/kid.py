"""Kernel Inception Distance (KID).

Bińkowski et al. 2018, "Demystifying MMD GANs": the squared maximum mean discrepancy
between feature distributions under the polynomial kernel
k(x, y) = (gamma x.y + coef0)^degree (defaults gamma = 1/d, coef0 = 1, degree = 3),
estimated on random subsets and averaged. Per subset X, Y of m samples each:

    MMD^2 = [sum_{i!=j} k(x_i, x_j) + sum_{i!=j} k(y_i, y_j)] / (m (m-1))
            - 2 sum_{i,j} k(x_i, y_j) / m^2,

the "unbiased" estimator of torch-fidelity / the MMD-GAN code (the cross term keeps its
diagonal). Subsets follow torch-fidelity: ``np.random.RandomState(seed)``; for each
subset, ``choice(n_real, m, replace=False)`` then ``choice(n_fake, m, replace=False)``;
the reported std is over subsets with ddof = 0. torch-fidelity's seed is 2020 (pass
``seed=2020`` to reproduce its numbers exactly on the same features).

Speed: Gram matrices are computed in the features' precision (float32 features give
float32 matmuls, as in torch-fidelity), the within-set ones with a symmetric
rank-k update (``A @ A.T``); kernel sums are accumulated in float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from genmodels.metrics.fid import as_feature_matrix

__all__ = ["kid_from_features", "polynomial_mmd2"]


def _kernel_sums(a: np.ndarray, b: np.ndarray | None, gamma: float, coef0: float,
                 degree: int) -> tuple[float, float]:
    """(sum of all kernel entries, sum of the diagonal) of k(a, b); b=None means b=a."""
    gram = a @ (a if b is None else b).T  # a @ a.T -> numpy syrk, half the work
    gram *= gamma
    gram += coef0
    kernel = gram * gram if degree > 1 else gram
    for _ in range(degree - 2):
        kernel *= gram
    total = float(kernel.sum(axis=1, dtype=np.float64).sum())
    diagonal = float(np.diagonal(kernel).sum(dtype=np.float64)) if b is None else 0.0
    return total, diagonal


def polynomial_mmd2(x: np.ndarray, y: np.ndarray, degree: int = 3, gamma: float | None = None,
                    coef0: float = 1.0) -> float:
    """Unbiased MMD^2 of two equal-size samples (m, d) under the polynomial kernel.

    Bińkowski et al. 2018, eq. above (module docstring); gamma=None means 1/d.
    """
    if x.shape != y.shape or x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"x and y must both be (m >= 2, d), got {x.shape} and {y.shape}")
    m = x.shape[0]
    gamma = 1.0 / x.shape[1] if gamma is None else float(gamma)
    sum_xx, diag_xx = _kernel_sums(x, None, gamma, coef0, degree)
    sum_yy, diag_yy = _kernel_sums(y, None, gamma, coef0, degree)
    sum_xy, _ = _kernel_sums(x, y, gamma, coef0, degree)
    within = (sum_xx - diag_xx + sum_yy - diag_yy) / (m * (m - 1))
    return within - 2.0 * sum_xy / (m * m)


def kid_from_features(
    real: Any,
    fake: Any,
    subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1,
    seed: int = 0,
) -> tuple[float, float]:
    """KID (Bińkowski et al. 2018): mean and std (ddof 0) of MMD^2 over random subsets.

    Each of ``subsets`` draws takes m = min(subset_size, n_real, n_fake) rows without
    replacement from each set and evaluates ``polynomial_mmd2`` with
    k(x, y) = (gamma x.y + coef0)^degree, gamma = 1/d by default.
    Deterministic for a given ``seed``. Raises ValueError for bad input.
    """
    real_arr = as_feature_matrix(real, "real")
    fake_arr = as_feature_matrix(fake, "fake")
    if real_arr.shape[1] != fake_arr.shape[1]:
        raise ValueError(
            f"real and fake feature dimensions differ: {real_arr.shape[1]} vs {fake_arr.shape[1]}"
        )
    if not isinstance(subsets, int) or subsets < 1:
        raise ValueError(f"subsets must be a positive int, got {subsets!r}")
    if not isinstance(subset_size, int) or subset_size < 2:
        raise ValueError(f"subset_size must be an int >= 2, got {subset_size!r}")
    if not isinstance(degree, int) or degree < 1:
        raise ValueError(f"degree must be a positive int, got {degree!r}")
    if gamma is not None and not gamma > 0:
        raise ValueError(f"gamma must be positive or None, got {gamma!r}")
    dtype = np.float64 if np.float64 in (real_arr.dtype, fake_arr.dtype) else np.float32
    real_arr = real_arr.astype(dtype, copy=False)
    fake_arr = fake_arr.astype(dtype, copy=False)

    n_real, n_fake = real_arr.shape[0], fake_arr.shape[0]
    m = min(subset_size, n_real, n_fake)
    rng = np.random.RandomState(seed)
    mmds = np.empty(subsets, dtype=np.float64)
    for s in range(subsets):
        x = real_arr[rng.choice(n_real, m, replace=False)]
        y = fake_arr[rng.choice(n_fake, m, replace=False)]
        mmds[s] = polynomial_mmd2(x, y, degree=degree, gamma=gamma, coef0=coef0)
    return float(mmds.mean()), float(mmds.std())
