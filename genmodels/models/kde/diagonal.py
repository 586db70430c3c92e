"""The diagonal kernel on the grey levels: a KDE whose discrete likelihood is exact.

Each training image ``x_j`` (at its cell centre) carries a Gaussian kernel with per-pixel
widths ``h_d = c * s_d``, ``s_d`` the pixel's training standard deviation (floored at one
cell, ``1/K``) and ``c`` one factor for all pixels. The kernel factorises over pixels, so the
probability of an image's levels is a mixture of products of CDF differences (the outer
cells take the tails, :func:`~genmodels.models.core.dequantize.level_edges`):

    P(k) = 1/n sum_j prod_d [Phi((hi_d(k_d) - x_jd)/h_d) - Phi((lo_d(k_d) - x_jd)/h_d)].

Training images sit on the levels too, so every factor is one entry of a table
``T[d, a, b] = log P(level a | kernel at level b, pixel d)`` of size ``D x K x K``; with
one-hot codes the log-probabilities of ``m`` queries under ``n`` kernels are one matrix
product ``(m, D K) @ (D K, n)``. The factor ``c`` is chosen by k-fold cross-validation of
this exact discrete likelihood on the training split (never the test split).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from genmodels.models.core.dequantize import level_edges, log_normal_cell_mass


def level_index(x: Tensor, levels: int) -> Tensor:
    """Data values ``k/(K-1)`` -> integer levels ``k`` (n, D)."""
    return torch.round(x * (levels - 1)).long().clamp(0, levels - 1)


def cell_table(levels: int, widths: Tensor) -> Tensor:
    """``T[d, a, b]``: log mass of level a's cell under ``N((b + 1/2)/K, widths_d^2)`` (D, K, K)."""
    k = torch.arange(levels, dtype=torch.float64, device=widths.device)
    lo, hi = level_edges(k / (levels - 1), levels)
    centre = (k + 0.5) / levels
    log_w = widths.log()[:, None, None]
    return log_normal_cell_mass(lo[None, :, None], hi[None, :, None], centre[None, None, :], log_w)


def one_hot(k: Tensor, levels: int) -> Tensor:
    """(n, D) levels -> (n, D K) float64 one-hot codes."""
    return torch.nn.functional.one_hot(k, levels).to(torch.float64).flatten(1)


def log_prob_levels(query: Tensor, support: Tensor, table: Tensor, block: int = 1024) -> Tensor:
    """``log 1/n sum_j exp(sum_d T[d, q_d, s_jd])`` for levels ``query`` (m, D), ``support`` (n, D)."""
    levels = table.shape[1]
    dims = torch.arange(table.shape[0], device=table.device)[:, None]
    right = table[dims, :, support.T].permute(0, 2, 1).reshape(-1, len(support))  # (D K, n): row (d, a), column j = T[d, a, s_jd]
    out = [torch.logsumexp(one_hot(query[s : s + block], levels) @ right, 1) for s in range(0, len(query), block)]
    return torch.cat(out) - math.log(len(support))


def choose_factor(k: Tensor, scales: Tensor, factors: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]], levels: int) -> tuple[int, Tensor]:
    """Index of the factor with the best held-out discrete log-likelihood, and every factor's score."""
    scores = torch.zeros(len(factors), dtype=torch.float64)
    for g, c in enumerate(factors):
        table = cell_table(levels, scales * float(c))
        for train, held in folds:
            scores[g] += log_prob_levels(k[torch.as_tensor(held)], k[torch.as_tensor(train)], table).sum()
    return int(torch.argmax(scores)), scores / len(folds)
