"""The exact families against brute-force enumeration of every 2x2 image with 3 levels (to 1e-6)."""

import pytest
import torch

from genmodels.models.core.registry import build_model
from genmodels.restoration import RestoreConfig, Undefined, get_task, restore
from tests.restoration.enumerate import INFO, LEVELS, all_levels, posterior_mean, tiny_images

TASKS = ["denoise-0.2", "denoise-0.5", "inpaint-square", "inpaint-half", "superres-2"]


def _train(seed: int = 0) -> torch.Tensor:
    return torch.randint(0, LEVELS, (40, 1, 2, 2), generator=torch.Generator().manual_seed(seed)).float() / (LEVELS - 1)


def _fitted(family: str, config: dict) -> torch.nn.Module:
    model = build_model(family, config, INFO)
    model.fit_direct(_train(), None, torch.Generator().manual_seed(0))
    return model


def _gmm() -> torch.nn.Module:
    model = build_model("gmm", {"n_components": 2}, INFO)
    model.set_parameters([0.4, 0.6], [[0.1, 0.5, 0.9, 0.3], [0.7, 0.2, 0.4, 0.8]], [[4.0, 6.0, 3.0, 5.0], [8.0, 2.5, 4.0, 7.0]])
    return model


MODELS = {
    "independent": lambda: _fitted("independent", {"alpha": 0.5}),
    "gmm": _gmm,
    "kde": lambda: _fitted("kde", {"cv_folds": 2, "n_bandwidths": 3}),
    "bayesnet": lambda: _fitted("bayesnet", {"prior_ess": 3.0}),
    "bayesnet-2-states": lambda: _fitted("bayesnet", {"image_bins": 2, "prior_ess": 3.0}),
}


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("name", list(MODELS))
def test_restorer_is_the_enumerated_posterior_mean(name: str, task: str) -> None:
    model = MODELS[name]()
    images = all_levels().float().view(-1, 1, 2, 2) / (LEVELS - 1)
    log_prior = model.discrete_log_prob(images, torch.Generator().manual_seed(0)).double()
    obs = get_task(task).corrupt(tiny_images(), 0)
    try:
        out = restore(model, obs, RestoreConfig(completions=2))
    except Undefined as exc:
        assert name.startswith("bayesnet") and task.startswith("superres"), exc
        return
    assert out.exact
    assert torch.allclose(out.mean.double().reshape(3, 4), posterior_mean(log_prior, obs), atol=1e-6)
    assert out.completions.shape == (3, 2, 1, 2, 2)
