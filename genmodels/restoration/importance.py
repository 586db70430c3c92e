"""Posterior means by self-normalised importance sampling with the model's own draws as the proposal.

With ``x_s ~ p(x)`` (``s = 1..S``, exact draws of the family's model on the levels) and the
observation's likelihood ``p(y | x)``,

    E[x | y] ≈ sum_s w_s x_s,   w_s = p(y | x_s) / sum_t p(y | x_t),

consistent as ``S`` grows (Geweke 1989); completions are draws from the weights. The same draws
serve every image and task. The likelihood is exact for noise and a Gaussian of std
``exact_sigma`` on the observed values for masks and pooling.
The effective sample size ``1 / sum_s w_s^2`` says how far the estimate is from degenerate.
"""

from __future__ import annotations

import torch
from torch import Tensor

from genmodels.restoration.evidence import level_evidence, observed_pixels
from genmodels.restoration.tasks import Observation


def log_weights(draws: Tensor, obs: Observation, exact_sigma: float, levels: int) -> Tensor:
    """``log p(y_n | x_s)`` up to a per-image constant, ``(n, S)``, as matrix products: noise through the
    per-level evidence table (``draws`` on the levels), masks and pooling as squared distances."""
    flat = draws.reshape(len(draws), -1).double()
    if obs.kind == "noise":
        table = level_evidence(obs, levels).reshape(len(obs), -1)  # (n, D K), finite for noise
        k = torch.round(flat * (levels - 1)).long().clamp(0, levels - 1)
        return table @ torch.nn.functional.one_hot(k, levels).double().reshape(len(flat), -1).T
    ax = obs.forward(draws.double()).reshape(len(draws), -1)
    y = obs.y.reshape(len(obs), -1).double()
    d2 = (y * y).sum(1, keepdim=True) - 2.0 * y @ ax.T + (ax * ax).sum(1)
    return -0.5 * d2 / (exact_sigma * exact_sigma)


def importance_posterior(draws: Tensor, obs: Observation, exact_sigma: float, levels: int, completions: int, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    """``(mean (n, *shape), completions (n, m, *shape), effective sample size (n,))`` from prior ``draws`` (S, *shape) on the levels."""
    flat = draws.reshape(len(draws), -1).double()
    w = torch.softmax(log_weights(draws, obs, exact_sigma, levels), 1)
    ess = 1.0 / (w * w).sum(1)
    mean = (w @ flat).view(len(obs), *obs.shape)
    idx = torch.multinomial(w, completions, replacement=True, generator=generator)
    chosen = flat[idx].view(len(obs), completions, *obs.shape)
    mean = observed_pixels(obs, mean)
    chosen = torch.stack([observed_pixels(obs, chosen[:, j]) for j in range(completions)], 1)
    return mean.float(), chosen.float(), ess
