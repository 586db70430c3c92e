"""Learned mixture priors: densities against torch.distributions, sampling moments; the VAE's
prior strategies (standard normal, mixture, VampPrior) in isolation."""

from __future__ import annotations

import math
from typing import get_args

import pytest
import torch
from torch import nn
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal, kl_divergence

from genmodels.models.core.priors import GaussianMixturePrior, mixture_log_density, mixture_sample
from genmodels.models.vae.model import VAEConfig
from genmodels.models.vae.priors import PRIORS, LatentPrior, MixturePrior, PriorSpec, StandardNormalPrior, VampPrior, attach_prior


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


# -- the VAE's prior strategies (genmodels.models.vae.priors) ---------------------------------


def test_every_configurable_prior_has_a_strategy() -> None:
    assert set(PRIORS) == set(get_args(VAEConfig.model_fields["prior"].annotation))


def test_standard_normal_density_kl_and_draws() -> None:
    g = torch.Generator().manual_seed(0)
    prior = attach_prior("standard", nn.Module(), PriorSpec(3, 7, (4,), True), lambda v: (v, v))
    assert isinstance(prior, StandardNormalPrior) and prior.standard_normal and prior.components() is None
    z = torch.randn(5, 2, 3, generator=g, dtype=torch.float64)
    ref = Independent(Normal(torch.zeros(3, dtype=torch.float64), 1.0), 1)
    torch.testing.assert_close(prior.log_prob(z), ref.log_prob(z))
    mu, log_std = torch.randn(4, 3, generator=g, dtype=torch.float64), 0.5 * torch.randn(4, 3, generator=g, dtype=torch.float64)
    closed = kl_divergence(Normal(mu, log_std.exp()), Normal(0.0, 1.0)).sum(1)
    torch.testing.assert_close(prior.kl(mu, log_std, torch.zeros_like(mu), mu), closed)  # closed form: eps, z unused
    draws = prior.sample(100_000, torch.Generator().manual_seed(1), temperature=0.5)
    assert draws.shape == (100_000, 3)
    torch.testing.assert_close(draws.std(0), torch.full((3,), 0.5), atol=0.01, rtol=0)


def test_one_sample_kl_estimate_is_unbiased_for_the_closed_form() -> None:
    """``E_eps[log q(z|v) - log p(z)] = KL(q || p)``: the learned priors' estimate, applied to N(0, I)."""
    prior = StandardNormalPrior(2)
    mu, log_std = torch.tensor([[0.5, -1.0]], dtype=torch.float64), torch.tensor([[-0.3, 0.2]], dtype=torch.float64)
    eps = torch.randn(400_000, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    z = mu + eps * log_std.exp()
    estimate = LatentPrior.kl(prior, mu.expand_as(z), log_std.expand_as(z), eps, z)
    closed = prior.kl(mu, log_std, eps, z)
    assert float(estimate.mean()) == pytest.approx(float(closed), abs=4 * float(estimate.std()) / 400_000**0.5)


def test_mixture_strategy_registers_its_parameters_on_the_owner() -> None:
    torch.manual_seed(0)
    owner = nn.Module()
    prior = attach_prior("mixture", owner, PriorSpec(3, 4, (2,), False), lambda v: (v, v))
    assert isinstance(prior, MixturePrior) and not prior.standard_normal
    assert sorted(owner.state_dict()) == ["prior_mixture.log_std", "prior_mixture.logits", "prior_mixture.means"]
    with torch.no_grad():
        owner.prior_mixture.logits.normal_()
        owner.prior_mixture.log_std.uniform_(-1.0, 0.5)
    z = torch.randn(6, 3)
    torch.testing.assert_close(prior.log_prob(z), reference(*prior.components()).log_prob(z))
    torch.testing.assert_close(prior.log_prob(z, prior.components()), prior.log_prob(z))


@pytest.mark.parametrize("bounded", [True, False])
def test_vamp_prior_is_the_mean_of_the_encoded_pseudo_inputs(bounded: bool) -> None:
    """Tomczak & Welling (2018), eq. 9: ``p(z) = (1/K) sum_k q(z | u_k)``, ``u_k = sigmoid(a_k)`` on bounded data."""
    torch.manual_seed(0)
    owner = nn.Module()
    owner.net = nn.Linear(2, 6)

    def encode(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_std = owner.net(v).chunk(2, dim=1)
        return mu, log_std

    prior = attach_prior("vamp", owner, PriorSpec(3, 5, (2,), bounded), encode)
    assert isinstance(prior, VampPrior) and "pseudo_inputs" in dict(owner.named_parameters())
    u = torch.sigmoid(owner.pseudo_inputs) if bounded else owner.pseudo_inputs
    torch.testing.assert_close(prior.pseudo_inputs(), u)
    mu, log_std = encode(u)
    z = torch.randn(8, 3)
    q = Independent(Normal(mu, log_std.exp()), 1)
    expected = torch.logsumexp(q.log_prob(z.unsqueeze(1)), 1) - math.log(5)
    torch.testing.assert_close(prior.log_prob(z), expected)
    with torch.no_grad():  # the strategy reads the owner's parameter at each call
        owner.pseudo_inputs.add_(1.0)
    assert not torch.equal(prior.components()[0], mu)


def test_data_initialisation_puts_the_means_on_the_first_rows() -> None:
    """``initialize(z)``: the first min(K, n) means are rows of z, every scale z's per-dim sd, equal weights."""
    prior = GaussianMixturePrior(4, 3)
    z = torch.randn(3, 3, generator=torch.Generator().manual_seed(0)) * torch.tensor([1.0, 2.0, 0.5])
    untouched = prior.means[3].clone()
    prior.initialize(z)
    torch.testing.assert_close(prior.means[:3], z)
    torch.testing.assert_close(prior.means[3], untouched)  # fewer rows than components: the rest keep their draw
    torch.testing.assert_close(prior.log_std, torch.log(z.std(0)).expand(4, 3))
    torch.testing.assert_close(prior.components()[2], torch.full((4,), -math.log(4)))
