"""Gaussian mixtures conditioned on a linear-Gaussian observation, in closed form.

For ``p(x) = sum_c w_c N(x; m_c, S_c)`` and ``y = A x + n``, ``n ~ N(0, s^2 I)`` (Bishop 2006,
sec. 2.3.3), every component's posterior is Gaussian and the weights follow the evidence:

    T_c = A S_c A^T + s^2 I,   G_c = S_c A^T T_c^-1,
    p(x | y, c) = N(m_c + G_c (y - A m_c), S_c - G_c A S_c),
    r_c ∝ w_c N(y; A m_c, T_c).

Denoising uses ``A = I`` and the task's sigma (the clip at 0 and 1 is ignored); inpainting
the observed rows of ``I`` and pooling the average-pooling matrix, both exact (``s`` is a
``1e-5`` jitter).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from genmodels.restoration.base import Restoration, as_images
from genmodels.restoration.tasks import Observation

LOG_2PI = math.log(2 * math.pi)
_JITTER = 1e-5


@dataclass(frozen=True)
class GaussianMixture:
    """``log_w`` (C,), ``means`` (C, D), ``cov`` (C, D, D), or (D, D) shared by every component."""

    log_w: Tensor
    means: Tensor
    cov: Tensor


def affine_to_data(mix: GaussianMixture, levels: int) -> GaussianMixture:
    """The mixture of dequantized ``v`` seen in data units ``x = (K v - 1/2) / (K - 1)``."""
    a = levels / (levels - 1)
    return GaussianMixture(mix.log_w, a * mix.means - 0.5 / (levels - 1), a * a * mix.cov)


def operator_matrix(obs: Observation) -> tuple[Tensor, Tensor, float]:
    """``(A (M, D), y (n, M), s)`` of an observation, float64 (``s``: noise std)."""
    dims = math.prod(obs.shape)
    eye = torch.eye(dims, dtype=torch.float64, device=obs.y.device)
    y = obs.y.reshape(len(obs), -1).double()
    if obs.kind == "noise":
        return eye, y, obs.sigma
    if obs.kind == "mask":
        keep = obs.mask.reshape(-1)
        return eye[keep], y[:, keep], _JITTER
    a = F.avg_pool2d(eye.reshape(dims, *obs.shape), obs.factor).reshape(dims, -1).T
    return a.contiguous(), y, _JITTER


def condition(mix: GaussianMixture, a: Tensor, y: Tensor, sigma: float) -> tuple[Tensor, Tensor, Tensor]:
    """Posterior ``(resp (n, C), means (n, C, D), cov (C, D, D))`` of the mixture given ``y = A x + n``."""
    c, d = mix.means.shape
    covs = mix.cov if mix.cov.dim() == 3 else mix.cov[None]
    eye = torch.eye(a.shape[0], dtype=torch.float64, device=a.device)
    log_ev, post_mean, post_cov = [], [], []
    for j in range(len(covs)):
        s = covs[j]
        t = a @ s @ a.T + sigma * sigma * eye
        chol = torch.linalg.cholesky(t)
        gain = torch.cholesky_solve(a @ s, chol).T  # S A^T T^-1, (D, M)
        post_cov.append(s - gain @ a @ s)
        means = mix.means if len(covs) == 1 else mix.means[j : j + 1]
        resid = y[:, None, :] - (means @ a.T)[None]  # (n, C or 1, M)
        white = torch.linalg.solve_triangular(chol, resid.reshape(-1, a.shape[0]).T, upper=False).T.reshape(resid.shape)
        log_ev.append(-0.5 * (white * white).sum(-1) - torch.diagonal(chol).log().sum() - 0.5 * a.shape[0] * LOG_2PI)
        post_mean.append(means[None] + resid @ gain.T)
    log_ev_t, mean_t = torch.cat(log_ev, 1), torch.cat(post_mean, 1)
    resp = torch.softmax(mix.log_w + log_ev_t, dim=1)
    cov_t = torch.stack(post_cov).expand(c, d, d) if len(covs) == 1 else torch.stack(post_cov)
    return resp, mean_t, cov_t


def restore_gaussian_mixture(mix: GaussianMixture, obs: Observation, config, generator: torch.Generator, method: str) -> Restoration:  # noqa: ANN001
    """Posterior mean and ``config.completions`` draws (continuous, clamped to [0, 1]) of the conditioned mixture."""
    a, y, sigma = operator_matrix(obs)
    means, draws = [], []
    for s in range(0, len(y), config.batch_size):
        resp, post_mean, post_cov = condition(mix, a, y[s : s + config.batch_size], sigma)
        means.append(torch.einsum("nc,ncd->nd", resp, post_mean))
        comp = torch.multinomial(resp, config.completions, replacement=True, generator=generator)  # (n, m)
        eye = torch.eye(post_cov.shape[-1], dtype=torch.float64, device=post_cov.device)
        chol = torch.linalg.cholesky(post_cov[comp] + _JITTER**2 * eye)
        z = torch.randn(*comp.shape, post_cov.shape[-1], 1, generator=generator, dtype=torch.float64)
        idx = torch.arange(len(comp))[:, None]
        draws.append(post_mean[idx, comp] + (chol @ z)[..., 0])
    return Restoration(as_images(torch.cat(means), obs.shape), as_images(torch.cat(draws), obs.shape), False, method)
