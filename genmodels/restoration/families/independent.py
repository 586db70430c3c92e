"""Independent categoricals: the exact posterior per pixel (a one-component :mod:`..products` mixture)."""

from __future__ import annotations

import torch

from genmodels.restoration.base import Restoration, Undefined, as_images, register_restorer
from genmodels.restoration.products import ProductMixture, posterior


@register_restorer("independent")
def restore_independent(model, obs, config, generator: torch.Generator, shared: dict | None = None) -> Restoration:  # noqa: ANN001
    """``P(x_d | y) ∝ P_d(x_d) e_d(x_d)`` per pixel; pooling: the exact block-sum convolution."""
    if model.levels is None:
        raise Undefined("independent on continuous data has no level tables to condition")
    model._check_fitted()
    pm = ProductMixture(torch.zeros(1, dtype=torch.float64, device=model.device), model.log_probs[None])
    mean, draws = posterior(pm, obs, config.completions, generator)
    method = "exact posterior per pixel" if obs.kind != "pool" else "exact posterior given the block sums (convolution)"
    return Restoration(as_images(mean, obs.shape), as_images(draws, obs.shape), True, method)
