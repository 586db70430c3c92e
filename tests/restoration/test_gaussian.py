import torch

from genmodels.restoration.gaussian import GaussianMixture, condition, operator_matrix, restore_gaussian_mixture
from genmodels.restoration.config import RestoreConfig
from genmodels.restoration.tasks import get_task
from tests.restoration.enumerate import tiny_images


def _spd(g: torch.Generator, d: int) -> torch.Tensor:
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    return a @ a.T / d + 0.1 * torch.eye(d, dtype=torch.float64)


def test_one_gaussian_conditioned_on_observed_dims_is_the_schur_complement() -> None:
    """Closed form (Bishop 2.81-2.82): mu_a + S_ab S_bb^-1 (y - mu_b), S_aa - S_ab S_bb^-1 S_ba."""
    g = torch.Generator().manual_seed(0)
    cov, mean = _spd(g, 4), torch.rand(4, generator=g, dtype=torch.float64)
    obs = get_task("inpaint-half").corrupt(tiny_images(), 0)  # observes dims 0, 1
    a, y, sigma = operator_matrix(obs)
    resp, post_mean, post_cov = condition(GaussianMixture(torch.zeros(1, dtype=torch.float64), mean[None], cov[None]), a, y, 1e-7)
    gain = cov[2:, :2] @ torch.linalg.inv(cov[:2, :2])
    expected = mean[2:] + (y - mean[:2]) @ gain.T
    assert torch.allclose(post_mean[:, 0, 2:], expected, atol=1e-8)
    assert torch.allclose(post_cov[0, 2:, 2:], cov[2:, 2:] - gain @ cov[:2, 2:], atol=1e-8)
    assert torch.allclose(resp, torch.ones_like(resp))


def test_responsibilities_follow_the_marginal_likelihood() -> None:
    g = torch.Generator().manual_seed(1)
    covs = torch.stack([_spd(g, 4), _spd(g, 4)])
    means = torch.rand(2, 4, generator=g, dtype=torch.float64)
    log_w = torch.log(torch.tensor([0.3, 0.7], dtype=torch.float64))
    obs = get_task("denoise-0.5").corrupt(tiny_images(), 0)
    a, y, sigma = operator_matrix(obs)
    resp, _, _ = condition(GaussianMixture(log_w, means, covs), a, y, sigma)
    ev = torch.stack([torch.distributions.MultivariateNormal(means[c], covs[c] + 0.25 * torch.eye(4, dtype=torch.float64)).log_prob(y) for c in range(2)], 1)
    assert torch.allclose(resp, torch.softmax(log_w + ev, 1), atol=1e-10)


def test_pooling_operator_and_shared_covariance() -> None:
    g = torch.Generator().manual_seed(2)
    obs = get_task("superres-2").corrupt(tiny_images(), 0)
    a, y, _ = operator_matrix(obs)
    assert torch.allclose(a, torch.full((1, 4), 0.25, dtype=torch.float64))
    mix = GaussianMixture(torch.log(torch.tensor([0.5, 0.5], dtype=torch.float64)), torch.rand(2, 4, generator=g, dtype=torch.float64), _spd(g, 4))
    out = restore_gaussian_mixture(mix, obs, RestoreConfig(completions=2), g, "test")
    assert out.mean.shape == (3, 1, 2, 2) and out.completions.shape == (3, 2, 1, 2, 2)
    pooled = out.mean.double().mean((1, 2, 3))  # an exact constraint: the mean keeps the pooled value (before clamping)
    assert torch.allclose(pooled.clamp(0, 1), y[:, 0], atol=1e-3) or (out.mean == 0).any() or (out.mean == 1).any()
