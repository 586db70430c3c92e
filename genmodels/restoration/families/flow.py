"""Flow: MAP in the flow's latent space (:mod:`..latent`), ``log p_base(z) + log p(y | f^-1(z))``.

The quantized front end makes ``log p(v)`` piecewise in data space, so the search runs on the
base latent instead, through the inverse ``f^-1`` (continuous in ``z``; its output is the
relaxed, dequantized image ``v``, mapped to data units by ``quantize_back``). This is the MAP
of the latent, not of the image (they differ by the log-determinant), and approximate.
"""

from __future__ import annotations

import torch

from genmodels.restoration.base import Restoration, register_restorer
from genmodels.restoration.latent import restore_by_latent


@register_restorer("flow")
def restore_flow(model, obs, config, generator: torch.Generator) -> Restoration:  # noqa: ANN001
    def starts(s: int, e: int) -> torch.Tensor:
        first = torch.zeros(e - s, model.latent_dim, device=model.device)
        return torch.stack([first, *(model.sample_latent(e - s, generator) for _ in range(config.completions - 1))])

    return restore_by_latent(model.decode, model.log_base, starts, obs, config, "latent MAP through the inverse flow from 0 and base draws (approximate)")
