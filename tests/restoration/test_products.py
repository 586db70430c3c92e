import pytest
import torch

from genmodels.restoration.products import ProductMixture, block_tables, convolve, posterior
from genmodels.restoration.tasks import get_task
from tests.restoration.enumerate import LEVELS, all_levels, posterior_mean, tiny_images


def _mixture(seed: int = 0) -> ProductMixture:
    g = torch.Generator().manual_seed(seed)
    log_p = torch.log_softmax(torch.randn(3, 4, LEVELS, generator=g, dtype=torch.float64), -1)
    return ProductMixture(torch.log_softmax(torch.randn(3, generator=g, dtype=torch.float64), 0), log_p)


def _log_prior(pm: ProductMixture) -> torch.Tensor:
    k = all_levels()
    per = torch.stack([pm.log_p[c, torch.arange(4), k].sum(-1) for c in range(len(pm.log_w))], 1)
    return torch.logsumexp(pm.log_w + per, 1)


@pytest.mark.parametrize("name", ["denoise-0.2", "denoise-0.5", "inpaint-square", "inpaint-half", "superres-2"])
def test_posterior_mean_matches_enumeration(name: str) -> None:
    pm = _mixture()
    obs = get_task(name).corrupt(tiny_images(), 0)
    mean, draws = posterior(pm, obs, 3, torch.Generator().manual_seed(0))
    assert torch.allclose(mean, posterior_mean(_log_prior(pm), obs), atol=1e-10)
    assert draws.shape == (3, 3, 4)


def test_draws_follow_the_posterior() -> None:
    pm = _mixture(1)
    obs = get_task("superres-2").corrupt(tiny_images()[:1], 0)
    _, draws = posterior(pm, obs, 20000, torch.Generator().manual_seed(0))
    assert torch.allclose(draws[0].mean(0), posterior_mean(_log_prior(pm), obs)[0], atol=0.02)
    assert torch.allclose(draws[0].sum(1) * (LEVELS - 1), obs.y.reshape(1).double() * 4 * (LEVELS - 1))  # every draw keeps the block sum


def test_convolution_and_block_tables_against_numpy_style_sums() -> None:
    a, b = torch.tensor([[0.2, 0.8]], dtype=torch.float64), torch.tensor([[0.5, 0.25, 0.25]], dtype=torch.float64)
    assert torch.allclose(convolve(a, b), torch.tensor([[0.1, 0.45, 0.25, 0.2]], dtype=torch.float64))
    p = torch.softmax(torch.randn(2, 3, 4, dtype=torch.float64), -1)
    suffix, others = block_tables(p)
    assert torch.allclose(suffix[:, 0].sum(-1), torch.ones(2, dtype=torch.float64))
    assert torch.allclose(others[:, 1, :7], convolve(p[:, 0], p[:, 2]))
