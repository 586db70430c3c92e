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
rank-k update (``A @ A.T``); kernel sums are accumulated in float64. KID is bound by
these products; ``SubsetKernelSums`` lets ``prdc_from_features`` feed its own Gram
blocks into the same estimator, so both metrics share one set of products.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from genmodels.metrics import defaults
from genmodels.metrics.fid import as_feature_matrix

__all__ = ["SubsetKernelSums", "kid_from_features", "polynomial_mmd2", "subset_indices"]


def _check_kid_args(subsets: int, subset_size: int, degree: int, gamma: float | None) -> None:
    if not isinstance(subsets, int) or subsets < 1:
        raise ValueError(f"subsets must be a positive int, got {subsets!r}")
    if not isinstance(subset_size, int) or subset_size < 2:
        raise ValueError(f"subset_size must be an int >= 2, got {subset_size!r}")
    if not isinstance(degree, int) or degree < 1:
        raise ValueError(f"degree must be a positive int, got {degree!r}")
    if gamma is not None and not gamma > 0:
        raise ValueError(f"gamma must be positive or None, got {gamma!r}")


def subset_indices(n_real: int, n_fake: int, subsets: int, subset_size: int,
                   seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (subsets, m) of each KID subset, m = min(subset_size, n_real, n_fake).

    Drawn as torch-fidelity does: ``RandomState(seed)``, then per subset
    ``choice(n_real, m, replace=False)`` followed by ``choice(n_fake, m, replace=False)``.
    """
    m = min(subset_size, n_real, n_fake)
    rng = np.random.RandomState(seed)
    real_idx = np.empty((subsets, m), dtype=np.int64)
    fake_idx = np.empty((subsets, m), dtype=np.int64)
    for s in range(subsets):
        real_idx[s] = rng.choice(n_real, m, replace=False)
        fake_idx[s] = rng.choice(n_fake, m, replace=False)
    return real_idx, fake_idx


def _kernel(gram: np.ndarray, gamma: float, coef0: float, degree: int,
            out: np.ndarray | None = None) -> np.ndarray:
    """(gamma * gram + coef0) ** degree; writes into ``out`` (may be ``gram`` itself)."""
    base = np.multiply(gram, gamma, out=out)
    base += coef0
    kernel = base * base if degree > 1 else base
    for _ in range(degree - 2):
        kernel *= base
    return kernel


def _kernel_sums(a: np.ndarray, b: np.ndarray | None, gamma: float, coef0: float,
                 degree: int) -> tuple[float, float]:
    """(sum of all kernel entries, sum of the diagonal) of k(a, b); b=None means b=a."""
    gram = a @ (a if b is None else b).T  # a @ a.T -> numpy syrk, half the work
    kernel = _kernel(gram, gamma, coef0, degree, out=gram)
    total = float(kernel.sum(axis=1, dtype=np.float64).sum())
    diagonal = float(np.diagonal(kernel).sum(dtype=np.float64)) if b is None else 0.0
    return total, diagonal


def _mmd2(sum_xx: Any, sum_yy: Any, sum_xy: Any, m: int) -> Any:
    """Unbiased MMD^2 from kernel sums (within-set sums without their diagonals)."""
    return (sum_xx + sum_yy) / (m * (m - 1)) - 2.0 * sum_xy / (m * m)


def polynomial_mmd2(x: np.ndarray, y: np.ndarray, degree: int = 3, gamma: float | None = None,
                    coef0: float = 1.0) -> float:
    """Unbiased MMD^2 of two equal-size samples (m, d) under the polynomial kernel.

    Bińkowski et al. 2018, eq. above (module docstring); gamma=None means 1/d.
    """
    if x.shape != y.shape or x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"x and y must both be (m >= 2, d), got {x.shape} and {y.shape}")
    gamma = 1.0 / x.shape[1] if gamma is None else float(gamma)
    sum_xx, diag_xx = _kernel_sums(x, None, gamma, coef0, degree)
    sum_yy, diag_yy = _kernel_sums(y, None, gamma, coef0, degree)
    sum_xy, _ = _kernel_sums(x, y, gamma, coef0, degree)
    return _mmd2(sum_xx - diag_xx, sum_yy - diag_yy, sum_xy, x.shape[0])


class SubsetKernelSums:
    """KID accumulated from Gram blocks that a caller forms anyway (e.g. for PRDC).

    For subset s with 0/1 indicator w_s, the kernel sums are w_s^T K w_s, added block by
    block in float64 (within-set diagonals removed). Same subsets, formula and result as
    ``kid_from_features`` with the same arguments, up to rounding. Cheaper than
    ``kid_from_features`` only when the full Gram matrices are computed anyway and
    n_real * n_fake is not much larger than subsets * m^2 (e.g. n = 10k, m = 1000).
    """

    def __init__(self, n_real: int, n_fake: int, dim: int, subsets: int = 100, subset_size: int = 1000,
                 degree: int = 3, gamma: float | None = None, coef0: float = 1, seed: int = 0) -> None:
        _check_kid_args(subsets, subset_size, degree, gamma)
        if min(n_real, n_fake) < 2:
            raise ValueError(f"KID needs at least 2 samples per set, got {n_real} and {n_fake}")
        real_idx, fake_idx = subset_indices(n_real, n_fake, subsets, subset_size, seed)
        self.m = real_idx.shape[1]
        self.shape = {"xx": (n_real, n_real), "yy": (n_fake, n_fake), "xy": (n_real, n_fake)}
        self._kernel_args = (1.0 / dim if gamma is None else float(gamma), float(coef0), degree)
        self._weights = {"x": np.zeros((n_real, subsets)), "y": np.zeros((n_fake, subsets))}
        self._weights["x"][real_idx, np.arange(subsets)[:, None]] = 1.0
        self._weights["y"][fake_idx, np.arange(subsets)[:, None]] = 1.0
        self._sums = {part: np.zeros(subsets) for part in self.shape}
        self._covered = dict.fromkeys(self.shape, 0)

    def add(self, part: str, rows: slice, cols: slice, gram: np.ndarray) -> None:
        """Add the block ``gram`` = A[rows] @ B[cols].T of part "xx", "yy" or "xy".

        For "xx"/"yy" pass the blocks on and above the diagonal only: a block with
        rows != cols also stands for its transpose. ``gram`` is not modified.
        """
        if part not in self.shape:
            raise ValueError(f"part must be 'xx', 'yy' or 'xy', got {part!r}")
        kernel = _kernel(gram, *self._kernel_args).astype(np.float64, copy=False)
        mirrored = part != "xy" and rows != cols
        if part != "xy" and rows == cols:
            np.fill_diagonal(kernel, 0.0)
        left, right = self._weights[part[0]][rows], self._weights[part[1]][cols]
        self._sums[part] += np.einsum("is,is->s", left, kernel @ right) * (2.0 if mirrored else 1.0)
        self._covered[part] += kernel.size * (2 if mirrored else 1)

    def result(self) -> tuple[float, float]:
        """(mean, std) of MMD^2 over subsets; raises ValueError if a block is missing."""
        for part, (rows, cols) in self.shape.items():
            if self._covered[part] != rows * cols:
                raise ValueError(f"Gram part {part!r} covers {self._covered[part]} of {rows * cols} entries")
        mmds = _mmd2(self._sums["xx"], self._sums["yy"], self._sums["xy"], self.m)
        return float(mmds.mean()), float(mmds.std())


def kid_from_features(
    real: Any,
    fake: Any,
    subsets: int = defaults.KID_SUBSETS,
    subset_size: int = defaults.KID_SUBSET_SIZE,
    degree: int = defaults.KID_DEGREE,
    gamma: float | None = None,
    coef0: float = 1,
    seed: int = 0,
) -> tuple[float, float]:
    """KID (Bińkowski et al. 2018): mean and std (ddof 0) of MMD^2 over random subsets.

    Each of ``subsets`` draws takes m = min(subset_size, n_real, n_fake) rows without
    replacement from each set (``subset_indices``) and evaluates ``polynomial_mmd2`` with
    k(x, y) = (gamma x.y + coef0)^degree, gamma = 1/d by default.
    Deterministic for a given ``seed``. Raises ValueError for bad input.
    """
    real_arr = as_feature_matrix(real, "real")
    fake_arr = as_feature_matrix(fake, "fake")
    if real_arr.shape[1] != fake_arr.shape[1]:
        raise ValueError(
            f"real and fake feature dimensions differ: {real_arr.shape[1]} vs {fake_arr.shape[1]}"
        )
    _check_kid_args(subsets, subset_size, degree, gamma)
    dtype = np.float64 if np.float64 in (real_arr.dtype, fake_arr.dtype) else np.float32
    real_arr = real_arr.astype(dtype, copy=False)
    fake_arr = fake_arr.astype(dtype, copy=False)

    real_idx, fake_idx = subset_indices(len(real_arr), len(fake_arr), subsets, subset_size, seed)
    mmds = np.empty(subsets, dtype=np.float64)
    for s in range(subsets):
        mmds[s] = polynomial_mmd2(real_arr[real_idx[s]], fake_arr[fake_idx[s]], degree, gamma, coef0)
    return float(mmds.mean()), float(mmds.std())
