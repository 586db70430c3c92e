"""Uniform dequantization: the one likelihood convention of the project.

A dataset with ``K`` discrete levels per dimension stores values ``x = k / (K - 1)``.
Models see ``v = (k + u) / K`` with ``u ~ U[0, 1)`` (Uria et al. 2013; Theis et al. 2016),
a point in [0, 1]^D. For any density ``p`` on that cube, Jensen gives
``-log P(k) <= D log K - E_u log p(v)``, so the bits per dimension reported everywhere are

    bpd = (D log K - log p(v)) / (D ln 2),

which is 0 for a perfect model and ``log2 K`` for the uniform density. Continuous data
(``levels is None``) are modelled as they are and ``bpd = -log p(x) / (D ln 2)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def dequantize(x: Tensor, levels: int | None, generator: torch.Generator | None) -> Tensor:
    """Map data values ``k/(K-1)`` to ``(k + u)/K``; identity for continuous data."""
    if levels is None:
        return x
    k = torch.round(x * (levels - 1))
    if generator is None:
        u = torch.full_like(x, 0.5)
    else:
        u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return (k + u) / levels


def quantize_back(v: Tensor, levels: int | None) -> Tensor:
    """Inverse of :func:`dequantize` up to the noise: density space -> data space, clamped to [0, 1]."""
    if levels is None:
        return v
    return ((v * levels - 0.5) / (levels - 1)).clamp(0.0, 1.0)


def bits_per_dim(log_likelihood: Tensor, dims: int, levels: int | None) -> Tensor:
    """Per-sample bits per dimension from log-densities in nats (convention above)."""
    offset = dims * math.log(levels) if levels is not None else 0.0
    return (offset - log_likelihood) / (dims * math.log(2.0))


def level_edges(x: Tensor, levels: int) -> tuple[Tensor, Tensor]:
    """Density-space cell ``[lo, hi)`` of each data value ``k/(K-1)``: ``[k/K, (k+1)/K)``.

    The outer cells reach to infinity (``lo = -inf`` for ``k = 0``, ``hi = +inf`` for
    ``k = K-1``), so the K cells partition the real line and a density on R^D gives a
    proper distribution on the levels: the one its clamped, quantized draws follow.
    """
    k = torch.round(x * (levels - 1))
    lo = torch.where(k > 0, k / levels, torch.full_like(k, -math.inf))
    hi = torch.where(k < levels - 1, (k + 1) / levels, torch.full_like(k, math.inf))
    return lo, hi


TAIL_EDGE = 60.0  # standard deviations at which an outer cell's tail is cut (Phi(-60) < 1e-780)


def log_normal_cell_mass(lo: Tensor, hi: Tensor, mean: Tensor, log_std: Tensor) -> Tensor:
    """``log(Phi((hi - mean)/s) - Phi((lo - mean)/s))`` elementwise, stable in both tails.

    The cell is reflected to the lower tail (``Phi(b) - Phi(a) = Phi(-a) - Phi(-b)``) so the
    difference is always taken between small CDF values: ``log Phi(b) + log1p(-Phi(a)/Phi(b))``.
    Computed and returned in float64.
    """
    lo, hi, mean, log_std = (t.double() for t in (lo, hi, mean, log_std))  # float64: narrow cells far in a tail
    inv = torch.exp(-log_std)
    # infinite edges become +-TAIL_EDGE standard deviations (a mass below 1e-780 is lost), so
    # neither the value nor its gradient ever meets inf - inf or 0 * inf
    open_lo, open_hi = torch.isinf(lo), torch.isinf(hi)
    a = torch.where(open_lo, -TAIL_EDGE, (torch.where(open_lo, 0.0, lo) - mean) * inv)
    b = torch.where(open_hi, TAIL_EDGE, (torch.where(open_hi, 0.0, hi) - mean) * inv)
    flip = (a + b) > 0  # the cell's centre lies above the mean: use the mirrored cell
    a, b = torch.where(flip, -b, a), torch.where(flip, -a, b)
    log_b = torch.special.log_ndtr(b)
    log_a = torch.special.log_ndtr(a)
    return log_b + torch.log1p(-torch.exp((log_a - log_b).clamp_max(0.0)).clamp_max(1.0 - 1e-16))


def to_levels(v: Tensor, levels: int | None) -> Tensor:
    """The level ``k = clamp(floor(K v), 0, K-1)`` of a density-space draw, as data ``k/(K-1)``.

    A draw ``v ~ p`` mapped this way is an exact draw from the discrete distribution whose
    cells :func:`level_edges` defines, i.e. from the model that the discrete NLL scores.
    """
    if levels is None:
        return v
    return torch.floor(v * levels).clamp(0, levels - 1) / (levels - 1)


def draw_in_cells(x: Tensor, levels: int, generator: torch.Generator, tails: bool) -> tuple[Tensor, Tensor]:
    """A proposal draw ``v`` in each value's level cell and its per-sample log-density ``log q(v)``.

    Interior cells (and all cells when ``tails`` is False, for densities on [0, 1]^D) are
    uniform: ``v = (k + u) / K``, ``q = K``. With ``tails`` the outer cells reach to infinity
    (:func:`level_edges`) and are drawn half-normal from their inner edge outwards with
    scale ``1/K``: ``q(v) = sqrt(2/pi) K exp(-(K (v - edge))^2 / 2)``.
    """
    k = torch.round(x * (levels - 1))
    v = dequantize(x, levels, generator)
    log_q = torch.full_like(v, math.log(levels))
    if tails:
        e = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype).abs()
        low, high = k == 0, k == levels - 1
        v = torch.where(low, (1.0 - e) / levels, torch.where(high, (levels - 1 + e) / levels, v))
        log_q = torch.where(low | high, 0.5 * math.log(2.0 / math.pi) + math.log(levels) - 0.5 * e * e, log_q)
    return v, log_q.flatten(1).sum(1)
