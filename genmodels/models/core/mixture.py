"""Gaussian mixtures in scikit-learn's parameterisation: density and draws.

``p(v) = sum_k w_k N(v; mu_k, Sigma_k)`` with each covariance given by the upper-triangular
Cholesky factor ``P_k`` of its precision, ``Sigma_k^-1 = P_k P_k^T`` (scikit-learn's
``precisions_cholesky_``; for a diagonal covariance the vector ``1 / sigma_k``). Then

    log N(v; mu_k, Sigma_k) = log|P_k| - D/2 log 2 pi - 1/2 ||P_k^T (v - mu_k)||^2,

and a draw is ``v = mu_k + P_k^-T e``, ``e ~ N(0, I)``. Used by the GMM family and by the
VAE's refitted latent prior.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

LOG_2PI = math.log(2 * math.pi)
_BLOCK = 1 << 22  # rows x components x dims evaluated at once


def gaussian_mixture_log_density(v: Tensor, log_weights: Tensor, means: Tensor, prec_chol: Tensor) -> Tensor:
    """log sum_k w_k N(v; mu_k, Sigma_k) for ``v`` (n, D); ``prec_chol`` is P_k (K, D, D) or 1/sigma (K, D)."""
    n, dim = v.shape
    k = means.shape[0]
    full = prec_chol.dim() == 3
    if full:
        log_det = torch.diagonal(prec_chol, dim1=1, dim2=2).log().sum(1)  # (K,)
        shift = torch.einsum("kd,kde->ke", means, prec_chol)  # mu_k^T P_k
    else:
        log_det = prec_chol.log().sum(1)
    const = log_weights + log_det - 0.5 * dim * LOG_2PI  # (K,)
    rows = max(1, _BLOCK // (k * dim))
    out = []
    for start in range(0, n, rows):
        x = v[start : start + rows]
        if full:
            y = torch.einsum("nd,kde->nke", x, prec_chol) - shift  # P_k^T (x - mu_k)
        else:
            y = (x[:, None, :] - means) * prec_chol
        out.append(torch.logsumexp(const - 0.5 * (y * y).sum(-1), dim=1))
    return torch.cat(out) if out else v.new_zeros(0)


def gaussian_mixture_sample(
    n: int, log_weights: Tensor, means: Tensor, prec_chol: Tensor, generator: torch.Generator, temperature: float = 1.0
) -> Tensor:
    """``n`` ancestral draws ``(n, D)``: a component ``k ~ w``, then ``mu_k + T P_k^-T e`` (dtype of ``means``)."""
    comp = torch.multinomial(log_weights.exp(), n, replacement=True, generator=generator)
    e = torch.randn(n, means.shape[1], generator=generator, device=means.device, dtype=means.dtype) * temperature
    if prec_chol.dim() == 2:
        return means[comp] + e / prec_chol[comp]
    v = torch.empty_like(e)
    for k in torch.unique(comp).tolist():
        rows = comp == k
        lower = prec_chol[k].T  # P^T is lower triangular: solve P^T d = e for each row
        v[rows] = torch.linalg.solve_triangular(lower, e[rows].T, upper=False).T + means[k]
    return v


def sklearn_seed(generator: torch.Generator) -> int:
    """A 31-bit seed for scikit-learn drawn from the torch generator (fixed seed -> same fit)."""
    return int(torch.randint(0, 2**31 - 1, (1,), generator=generator, device=generator.device).item())
