"""VAE: latent MAP (:mod:`..latent`) through the decoder mean, with the encoder's guess as the first start.

Starts: ``encode(observation)``'s mean (missing pixels as 0, pooled images upsampled: the
encode -> decode restoration), then prior draws. Prior: the VAE's own ``log p(z)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genmodels.models.core.dequantize import dequantize
from genmodels.restoration.base import Restoration, register_restorer
from genmodels.restoration.latent import restore_by_latent


def filled(obs, start: int, end: int) -> torch.Tensor:  # noqa: ANN001
    """The observation as full-size images: as is (noise, mask with 0s) or nearest-upsampled (pool)."""
    y = obs.y[start:end].float()
    return F.interpolate(y, scale_factor=obs.factor, mode="nearest") if obs.kind == "pool" else y


@register_restorer("vae")
def restore_vae(model, obs, config, generator: torch.Generator, shared: dict | None = None) -> Restoration:  # noqa: ANN001
    def starts(s: int, e: int) -> torch.Tensor:
        first, _ = model.encode(dequantize(filled(obs, s, e), model.info.levels, None))
        rest = [model.sample_latent(e - s, generator) for _ in range(config.completions - 1)]
        return torch.stack([first, *rest])

    return restore_by_latent(model.decode, model.log_prior, starts, obs, config, "latent MAP from the encoder's guess and prior draws (approximate)")
