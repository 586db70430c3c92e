"""VAE, GAN and flow restorers on tiny models: shapes, observed pixels kept, and the MAP's fixed point."""

import pytest
import torch

from genmodels.models.core.registry import build_model
from genmodels.restoration import RestoreConfig, get_task, restore
from genmodels.restoration.families.gan import standard_normal_log_prior
from genmodels.restoration.latent import latent_map, log_likelihood
from tests.restoration.enumerate import INFO, tiny_images

CONFIGS = {
    "vae": {"latent_dim": 2, "hidden": [8], "arch": "mlp"},
    "gan": {"latent_dim": 2, "hidden": [8], "arch": "mlp"},
    "flow": {"front_hidden": [8], "conv_width": 4, "scales": 1, "checker_layers": 1, "channel_layers": 0, "final_layers": 1},
}
FAST = RestoreConfig(completions=3, latent_steps=30, importance_samples=300)


def _model(family: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(family, CONFIGS[family], INFO)


@pytest.mark.parametrize("task", ["denoise-0.2", "inpaint-half", "superres-2"])
@pytest.mark.parametrize("family", list(CONFIGS))
def test_restorer_shapes_range_and_observed_pixels(family: str, task: str) -> None:
    obs = get_task(task).corrupt(tiny_images(), 0)
    out = restore(_model(family), obs, FAST, torch.Generator().manual_seed(0))
    assert out.mean.shape == (3, 1, 2, 2) and out.completions.shape == (3, 3, 1, 2, 2)
    assert out.mean.min() >= 0 and out.mean.max() <= 1 and not out.exact
    if obs.kind == "mask":
        assert torch.equal(out.mean[:, :, 0], tiny_images()[:, :, 0])


@pytest.mark.parametrize("family", ["vae", "gan"])
def test_latent_map_ends_at_a_stationary_point(family: str) -> None:
    model = _model(family).eval()
    obs = get_task("denoise-0.5").corrupt(tiny_images(), 0)
    prior = model.log_prior if family == "vae" else standard_normal_log_prior
    objective = lambda x: log_likelihood(obs, x, obs.y, 0.05)  # noqa: E731
    z, _ = latent_map(model.decode, prior, torch.zeros(3, 2), objective, 400, 0.1)
    z = z.requires_grad_(True)
    (grad,) = torch.autograd.grad((objective(model.decode(z)) + prior(z)).sum(), z)
    assert grad.abs().max() < 1e-2
