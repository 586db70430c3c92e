"""Latent MAP for decoder families (VAE, GAN, flow): restore by optimising the latent.

With a decoder ``g`` (data-space images), a latent prior ``p(z)`` and the observation's
likelihood, each image's latent maximises (Bora et al. 2017; Menon et al. 2020)

    J(z) = log p(y | g(z)) + log p(z),

by Adam from several starts; the restoration is ``g`` at the best ``z`` (a MAP estimate, not a
posterior mean) and the decodes of all starts are the completions (local optima, not posterior
draws). The likelihood is exact for noise (the clipped Gaussian of :mod:`.evidence`) and a
Gaussian of std ``exact_sigma`` on the observed values for masks and pooling.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from genmodels.restoration.base import Restoration
from genmodels.restoration.evidence import clipped_gaussian_log_lik, observed_pixels
from genmodels.restoration.tasks import Observation

Decoder = Callable[[Tensor], Tensor]
LogPrior = Callable[[Tensor], Tensor]


def log_likelihood(obs: Observation, x: Tensor, y: Tensor, exact_sigma: float) -> Tensor:
    """``log p(y | x)`` per image (up to a constant) of images ``x`` against their observations ``y``."""
    if obs.kind == "noise":
        return clipped_gaussian_log_lik(y, x, obs.sigma).flatten(1).sum(1)
    resid = (obs.forward(x) - y) / exact_sigma
    return -0.5 * resid.flatten(1).pow(2).sum(1)


def latent_map(decode: Decoder, log_prior: LogPrior, z0: Tensor, objective: Callable[[Tensor], Tensor], steps: int, lr: float) -> tuple[Tensor, Tensor]:
    """Maximise ``objective(decode(z)) + log_prior(z)`` per row from ``z0`` (n, k) with Adam.

    Returns ``(z, J)``: the final latents and their objective values (n,). Rows are independent
    (Adam's updates are elementwise), so a batch gives the same answer as one row at a time.
    """
    z = z0.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            value = objective(decode(z)) + log_prior(z)
            (grad,) = torch.autograd.grad(-value.sum(), z)
            z.grad = grad
            opt.step()
        final = objective(decode(z)) + log_prior(z)
    return z.detach(), final.detach()


def restore_by_latent(decode: Decoder, log_prior: LogPrior, starts: Callable[[int, int], Tensor], obs: Observation, config, method: str) -> Restoration:  # noqa: ANN001
    """MAP restoration in batches; ``starts(begin, end)`` gives ``(m, rows, k)`` starting latents for those images."""
    means, completions = [], []
    for s in range(0, len(obs), config.batch_size):
        y = obs.y[s : s + config.batch_size].float()
        z0 = starts(s, s + len(y))  # (m, rows, k)
        m = len(z0)
        y_rep = y.repeat(m, *[1] * (y.dim() - 1))

        def objective(x: Tensor, y_rep: Tensor = y_rep) -> Tensor:
            return log_likelihood(obs, x, y_rep, config.exact_sigma)

        z, value = latent_map(decode, log_prior, z0.reshape(m * len(y), -1), objective, config.latent_steps, config.latent_lr)
        x = decode(z).detach().view(m, len(y), *obs.shape).transpose(0, 1)  # (rows, m, C, H, W)
        best = value.view(m, len(y)).argmax(0)
        sub = _subset(obs, s, len(y))
        x = torch.stack([observed_pixels(sub, x[:, j]) for j in range(m)], 1).clamp(0.0, 1.0)
        means.append(x[torch.arange(len(y)), best])
        completions.append(x)
    return Restoration(torch.cat(means).float(), torch.cat(completions).float(), False, method)


def _subset(obs: Observation, start: int, count: int) -> Observation:
    return Observation(obs.kind, obs.y[start : start + count], obs.shape, obs.sigma, obs.factor, obs.mask)
