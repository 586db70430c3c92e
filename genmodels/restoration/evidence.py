"""What an observation says about each pixel's grey level: the likelihood ``p(y_d | x_d = k/(K-1))``.

For families on the K levels the observation enters as a per-pixel table ``log e[n, d, k]``:

* noise (``y = clip(x + sigma e, 0, 1)``): the clipped Gaussian, a density inside (0, 1) and a
  point mass at each end, ``log e = log N(y; x, sigma^2)`` for ``0 < y < 1``,
  ``log Phi(-x/sigma)`` at ``y = 0`` and ``log Phi((x - 1)/sigma)`` at ``y = 1``;
* mask: 0 for every level of a missing pixel, and 0 at the observed level / ``-inf`` elsewhere
  for an observed one;
* pool: no per-pixel table (zeros); the block sums :func:`block_sums` carry it exactly.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from genmodels.restoration.tasks import Observation

LOG_2PI = math.log(2 * math.pi)


def level_values(levels: int, device: torch.device | None = None) -> Tensor:
    """The data values ``k / (K - 1)`` of the K levels, float64."""
    return torch.arange(levels, dtype=torch.float64, device=device) / (levels - 1)


def clipped_gaussian_log_lik(y: Tensor, x: Tensor, sigma: float) -> Tensor:
    """``log p(y | x)`` of ``y = clip(x + sigma e, 0, 1)`` (broadcast), float64; exact ends 0 and 1."""
    y, x = y.double(), x.double()
    inside = -0.5 * ((y - x) / sigma) ** 2 - math.log(sigma) - 0.5 * LOG_2PI
    low = torch.special.log_ndtr(-x / sigma)
    high = torch.special.log_ndtr((x - 1.0) / sigma)
    return torch.where(y <= 0.0, low, torch.where(y >= 1.0, high, inside))


def level_evidence(obs: Observation, levels: int) -> Tensor:
    """``log e[n, d, k]`` (float64, ``(n, D, K)``) for noise and mask observations; zeros for pool."""
    n, dims = len(obs), math.prod(obs.shape)
    vals = level_values(levels, obs.y.device)
    if obs.kind == "noise":
        return clipped_gaussian_log_lik(obs.y.reshape(n, dims, 1), vals, obs.sigma)
    if obs.kind == "mask":
        observed = obs.mask.reshape(1, dims, 1).expand(n, dims, 1)
        k = torch.round(obs.y.reshape(n, dims).double() * (levels - 1)).long().clamp(0, levels - 1)
        hit = torch.nn.functional.one_hot(k, levels).bool()
        out = torch.where(hit, 0.0, -math.inf).double()
        return torch.where(observed, out, torch.zeros_like(out))
    return torch.zeros(n, dims, levels, dtype=torch.float64, device=obs.y.device)


def block_index(shape: tuple[int, ...], factor: int) -> Tensor:
    """Flat pixel indices ``(B, f*f)`` of each ``f x f`` pooling block of ``(C, H, W)`` images,
    blocks in the row-major order of the pooled image ``(C, H/f, W/f)``."""
    c, h, w = shape
    idx = torch.arange(c * h * w).view(c, h // factor, factor, w // factor, factor)
    return idx.permute(0, 1, 3, 2, 4).reshape(-1, factor * factor)


def block_sums(obs: Observation, levels: int) -> Tensor:
    """Sum of the levels ``k`` in each pooling block, ``(n, B)`` long: ``round(f^2 (K - 1) y)``
    (the pooled value is an average of ``k / (K - 1)``, so the sum is an integer)."""
    f2 = obs.factor * obs.factor
    return torch.round(obs.y.reshape(len(obs), -1).double() * f2 * (levels - 1)).long()


def observed_pixels(obs: Observation, x: Tensor) -> Tensor:
    """``x`` with the exactly observed pixels of a mask observation put back (other kinds: ``x``)."""
    if obs.kind != "mask":
        return x
    return torch.where(obs.mask.to(x.device), obs.y.to(x.dtype), x)
