"""What the report shows of a model beyond its sample grid: a latent interpolation strip and
each of a few samples beside its nearest training image (pixel space).

Pure numpy/torch; :mod:`genmodels.viz` draws the arrays.
"""

from __future__ import annotations

import numpy as np
import torch

from genmodels.models.core.base import GenerativeModel


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of ``z0`` and ``z1`` at fractions ``t`` (shape ``(k,)``):
    ``(n, d), (n, d) -> (n, k, d)``; falls back to a straight line for (anti)parallel pairs."""
    a, b = z0 / z0.norm(dim=1, keepdim=True), z1 / z1.norm(dim=1, keepdim=True)
    omega = torch.arccos((a * b).sum(1).clamp(-1 + 1e-7, 1 - 1e-7))[:, None, None]  # (n, 1, 1)
    t = t[None, :, None]
    so = torch.sin(omega)
    w0 = torch.where(so > 1e-6, torch.sin((1 - t) * omega) / so, 1 - t)
    w1 = torch.where(so > 1e-6, torch.sin(t * omega) / so, t)
    return w0 * z0[:, None] + w1 * z1[:, None]


@torch.no_grad()
def interpolation(model: GenerativeModel, pairs: int = 4, steps: int = 8, seed: int = 0) -> np.ndarray | None:
    """``(pairs, steps, *shape)`` decodes along paths between two prior draws (slerp for a
    Gaussian prior, else a straight line), clipped to [0, 1]; None for a family without a latent."""
    if model.latent_dim is None:
        return None
    gen = torch.Generator(device=model.device).manual_seed(seed)
    z0, z1 = model.sample_latent(pairs, gen), model.sample_latent(pairs, gen)
    t = torch.linspace(0, 1, steps, device=model.device)
    if model.gaussian_latent:
        z = slerp(z0, z1, t)
    else:
        z = z0[:, None] + t[None, :, None] * (z1 - z0)[:, None]
    x = model.decode(z.reshape(pairs * steps, -1)).float().cpu().numpy()
    return np.clip(x.reshape(pairs, steps, *x.shape[1:]), 0.0, 1.0)


def nearest_neighbours(samples: np.ndarray, train: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Index of each sample's nearest training row (Euclidean, flattened) and the distance."""
    s = samples.reshape(len(samples), -1).astype(np.float64)
    best_d = np.full(len(s), np.inf)
    best_i = np.zeros(len(s), dtype=np.int64)
    s2 = (s**2).sum(1)
    for start in range(0, len(train), chunk):
        t = train[start : start + chunk].reshape(-1, s.shape[1]).astype(np.float64)
        d2 = s2[:, None] + (t**2).sum(1)[None] - 2 * s @ t.T
        i = d2.argmin(1)
        d = d2[np.arange(len(s)), i]
        better = d < best_d
        best_d[better], best_i[better] = d[better], start + i[better]
    return best_i, np.sqrt(np.maximum(best_d, 0.0))
