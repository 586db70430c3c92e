"""Conditional Gibbs of the RBM against the enumerated posterior mean (Monte Carlo tolerance 0.03)."""

import pytest
import torch

from genmodels.models.core.registry import build_model
from genmodels.restoration import RestoreConfig, get_task, restore
from tests.restoration.enumerate import INFO, LEVELS, all_levels, posterior_mean, tiny_images


@pytest.mark.parametrize("task", ["denoise-0.5", "inpaint-half", "superres-2"])
def test_gibbs_mean_matches_enumeration(task: str) -> None:
    model = build_model("rbm", {"hidden": 3}, INFO)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        model.weight.copy_(torch.randn(4, 3, generator=g))
        model.vbias.copy_(torch.randn(4, generator=g) * 0.5)
        model.hbias.copy_(torch.randn(3, generator=g) * 0.5)
    units = all_levels().double()
    log_prior = -model.double().free_energy(units)
    model.float()
    obs = get_task(task).corrupt(tiny_images(), 0)
    out = restore(model, obs, RestoreConfig(gibbs_chains=16, gibbs_burn_in=10, gibbs_sweeps=200, completions=3, gibbs_pool=True), torch.Generator().manual_seed(1))
    assert torch.allclose(out.mean.double().reshape(3, 4), posterior_mean(log_prior.detach(), obs), atol=0.03)
    assert out.completions.shape == (3, 3, 1, 2, 2)
    if task == "superres-2":  # every draw keeps the block sum exactly
        assert torch.allclose(out.completions.double().mean((2, 3, 4)), obs.y.double().reshape(3, 1).expand(3, 3), atol=1e-6)


def test_super_resolution_is_off_by_default_with_the_key_that_turns_it_on() -> None:
    from genmodels.restoration import Undefined
    from genmodels.restoration.families.rbm import restore_rbm

    class Binomial:
        visible = "binomial"

    obs = get_task("superres-2").corrupt(torch.rand(2, 1, 4, 4), 0)
    with pytest.raises(Undefined, match="restore.gibbs_pool: true"):
        restore_rbm(Binomial(), obs, RestoreConfig(), torch.Generator())
