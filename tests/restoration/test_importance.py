import torch

from genmodels.restoration.importance import importance_posterior
from genmodels.restoration.tasks import get_task
from tests.restoration.enumerate import LEVELS, all_levels, posterior_mean, tiny_images


def test_importance_sampling_converges_to_the_enumerated_posterior() -> None:
    g = torch.Generator().manual_seed(0)
    k = all_levels()
    log_prior = torch.log_softmax(torch.randn(len(k), generator=g, dtype=torch.float64), 0)
    draws = (k[torch.multinomial(log_prior.exp(), 100000, replacement=True, generator=g)].float() / (LEVELS - 1)).view(-1, 1, 2, 2)
    obs = get_task("denoise-0.5").corrupt(tiny_images(), 0)
    mean, comp, ess = importance_posterior(draws, obs, 0.05, LEVELS, 3, g)
    assert torch.allclose(mean.double().reshape(3, 4), posterior_mean(log_prior, obs), atol=0.01)
    assert comp.shape == (3, 3, 1, 2, 2) and (ess > 1000).all()
