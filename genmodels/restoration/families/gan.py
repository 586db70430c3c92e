"""GAN: latent inversion (:mod:`..latent`) of the averaged generator under the ``N(0, I)`` prior."""

from __future__ import annotations

import torch

from genmodels.restoration.base import Restoration, register_restorer
from genmodels.restoration.latent import restore_by_latent


def standard_normal_log_prior(z: torch.Tensor) -> torch.Tensor:
    """``log N(z; 0, I)`` up to its constant."""
    return -0.5 * z.pow(2).sum(1)


@register_restorer("gan")
def restore_gan(model, obs, config, generator: torch.Generator, shared: dict | None = None) -> Restoration:  # noqa: ANN001
    def starts(s: int, e: int) -> torch.Tensor:
        first = torch.zeros(e - s, model.latent_dim, device=model.device)
        return torch.stack([first, *(model.sample_latent(e - s, generator) for _ in range(config.completions - 1))])

    return restore_by_latent(model.decode, standard_normal_log_prior, starts, obs, config, "latent inversion from the prior mode and prior draws (approximate)")
