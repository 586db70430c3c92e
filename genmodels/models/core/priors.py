"""Learned latent priors: a diagonal Gaussian mixture, shared by the VAE and the flow.

    p(z) = sum_k w_k N(z; m_k, diag s_k^2),   w = softmax(logits),

evaluated as a log-sum-exp over components; sampling draws ``k ~ w`` and then
``m_k + T s_k eps`` (temperature ``T`` scales each component, the convention of a latent
scaled by ``T``). A mixture base lets a flow or a VAE put separate modes of the data (digit
classes) in separate components instead of joining them through low-density bridges
(Izmailov et al. 2020, FlowGMM; Tomczak & Welling 2018 for the VAE).
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
from torch import Tensor, nn

LOG_2PI = math.log(2 * math.pi)


def mixture_log_density(z: Tensor, means: Tensor, log_std: Tensor, log_weights: Tensor) -> Tensor:
    """``log sum_k w_k N(z; m_k, diag exp(log_std_k)^2)`` over the last dim of ``z`` (``means``: (K, D))."""
    zk = z.unsqueeze(-2)  # (..., 1, D) against (K, D)
    comp = (-0.5 * (((zk - means) * torch.exp(-log_std)) ** 2 + LOG_2PI) - log_std).sum(-1)
    return torch.logsumexp(comp + log_weights, dim=-1)


def mixture_sample(n: int, means: Tensor, log_std: Tensor, log_weights: Tensor, generator: torch.Generator, temperature: float = 1.0) -> Tensor:
    """``n`` draws ``m_k + T s_k eps`` with ``k ~ softmax(log_weights)``, shape ``(n, D)``."""
    k = torch.multinomial(log_weights.exp(), n, replacement=True, generator=generator)
    eps = torch.randn(n, means.shape[1], generator=generator, device=means.device, dtype=means.dtype)
    return means[k] + temperature * eps * log_std[k].exp()


class GaussianMixturePrior(nn.Module):
    """K learned diagonal Gaussians over ``dim`` latent dims; means start as N(0, scale^2 I) draws."""

    def __init__(self, components: int, dim: int, scale: float = 1.0) -> None:
        super().__init__()
        self.means = nn.Parameter(scale * torch.randn(components, dim))
        self.log_std = nn.Parameter(torch.zeros(components, dim))
        self.logits = nn.Parameter(torch.zeros(components))

    def components(self) -> tuple[Tensor, Tensor, Tensor]:
        """Means, log standard deviations and log weights."""
        return self.means, self.log_std, torch.log_softmax(self.logits, 0)

    def log_prob(self, z: Tensor) -> Tensor:
        return mixture_log_density(z, *self.components())

    @torch.no_grad()
    def initialize(self, z: Tensor) -> None:
        """Data-dependent start (as k-means seeds from data points): the means become the first
        ``min(K, n)`` rows of ``z`` (a shuffled batch), every scale the batch's per-dim standard
        deviation, the weights equal. Distributed, rank 0's start is broadcast to every rank."""
        m = min(len(self.means), len(z))
        self.means[:m] = z[:m]
        self.log_std.copy_(torch.log(z.std(0).clamp_min(1e-3)).expand_as(self.log_std))
        self.logits.zero_()
        if dist.is_available() and dist.is_initialized():
            for t in (self.means, self.log_std):
                dist.broadcast(t.data, src=0)

    def sample(self, n: int, generator: torch.Generator, temperature: float = 1.0) -> Tensor:
        return mixture_sample(n, *self.components(), generator, temperature)
