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
