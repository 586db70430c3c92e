"""Learned mixture priors: densities against torch.distributions, sampling moments."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

from genmodels.models.core.priors import GaussianMixturePrior, mixture_log_density, mixture_sample


def reference(means: torch.Tensor, log_std: torch.Tensor, log_w: torch.Tensor) -> MixtureSameFamily:
    return MixtureSameFamily(Categorical(logits=log_w), Independent(Normal(means, log_std.exp()), 1))


def test_log_density_matches_torch_distributions() -> None:
    g = torch.Generator().manual_seed(0)
    means, log_std = torch.randn(5, 3, generator=g, dtype=torch.float64), 0.3 * torch.randn(5, 3, generator=g, dtype=torch.float64)
    log_w = torch.log_softmax(torch.randn(5, generator=g, dtype=torch.float64), 0)
    z = 2 * torch.randn(7, 4, 3, generator=g, dtype=torch.float64)  # any leading shape
    torch.testing.assert_close(mixture_log_density(z, means, log_std, log_w), reference(means, log_std, log_w).log_prob(z))


def test_one_unit_component_is_the_standard_normal() -> None:
    z = torch.randn(10, 6, dtype=torch.float64)
    expected = -0.5 * (z**2).sum(1) - 3 * math.log(2 * math.pi)
    zeros = torch.zeros(1, 6, dtype=torch.float64)
    torch.testing.assert_close(mixture_log_density(z, zeros, zeros, torch.zeros(1, dtype=torch.float64)), expected)


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_samples_have_the_mixture_moments(temperature: float) -> None:
    """Mean sum_k w_k m_k; variance sum_k w_k (T^2 s_k^2 + m_k^2) - mean^2."""
    torch.manual_seed(0)
    prior = GaussianMixturePrior(3, 2, scale=2.0).double()
    with torch.no_grad():
        prior.logits.copy_(torch.tensor([0.0, 1.0, -1.0]))
        prior.log_std.copy_(torch.tensor([[0.0, -1.0], [0.5, 0.0], [-0.5, 0.2]]))
        means, log_std, log_w = prior.components()
        w = log_w.exp()[:, None]
        mean = (w * means).sum(0)
        var = (w * (temperature**2 * (2 * log_std).exp() + means**2)).sum(0) - mean**2
        z = prior.sample(200_000, torch.Generator().manual_seed(1), temperature)
    torch.testing.assert_close(z.mean(0), mean, atol=float(4 * var.max().sqrt() / 200_000**0.5), rtol=0)
    torch.testing.assert_close(z.var(0), var, rtol=0.02, atol=0)
    same = mixture_sample(200_000, means, log_std, log_w, torch.Generator().manual_seed(1), temperature)
    torch.testing.assert_close(same, z)  # the module and the function draw alike
