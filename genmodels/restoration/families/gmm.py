"""Gaussian mixture: exact on the levels for diagonal covariances, Gaussian conditioning for full ones.

Diagonal: each component's level law is the product of its per-pixel cell masses
``Phi((hi - mu)/s) - Phi((lo - mu)/s)`` (the model the discrete NLL scores), a
:mod:`..products` mixture, so the posterior is exact. Full covariances: the mixture is
conditioned in closed form on the linear-Gaussian observation (:mod:`..gaussian`), in the
data units ``x = (K v - 1/2) / (K - 1)`` that :func:`quantize_back` uses, ignoring the
quantization (approximate).
"""

from __future__ import annotations

import torch

from genmodels.models.core.dequantize import level_edges, log_normal_cell_mass
from genmodels.restoration.base import Restoration, Undefined, as_images, register_restorer
from genmodels.restoration.evidence import level_values
from genmodels.restoration.gaussian import GaussianMixture, affine_to_data, restore_gaussian_mixture
from genmodels.restoration.products import ProductMixture, posterior


def level_tables(means: torch.Tensor, log_std: torch.Tensor, levels: int) -> torch.Tensor:
    """``log P(level k | component c, pixel d)`` (C, D, K): the Gaussian's mass on each level's cell."""
    lo, hi = level_edges(level_values(levels, means.device), levels)
    return log_normal_cell_mass(lo, hi, means[..., None], log_std[..., None])


@register_restorer("gmm")
def restore_gmm(model, obs, config, generator: torch.Generator, shared: dict | None = None) -> Restoration:  # noqa: ANN001
    levels = model.info.levels
    if levels is None:
        raise Undefined("gmm restoration needs image data on discrete levels")
    model._check_fitted()
    if model.prec_chol.dim() == 2:
        pm = ProductMixture(model.log_weights, level_tables(model.means, -model.prec_chol.log(), levels))
        mean, draws = posterior(pm, obs, config.completions, generator)
        return Restoration(as_images(mean, obs.shape), as_images(draws, obs.shape), True, "exact posterior on the levels (diagonal components)")
    eye = torch.eye(model.dim, dtype=torch.float64, device=model.device)
    inv = torch.linalg.solve_triangular(model.prec_chol, eye.expand_as(model.prec_chol), upper=True)  # P^-1
    cov = inv.transpose(1, 2) @ inv  # Sigma = (P P^T)^-1 = P^-T P^-1
    mix = affine_to_data(GaussianMixture(model.log_weights, model.means, cov), levels)
    return restore_gaussian_mixture(mix, obs, config, generator, "Gaussian conditioning per component (full covariances, quantization ignored)")
