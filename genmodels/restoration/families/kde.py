"""KDE: a mixture with one component per training image.

Diagonal kernel (the default on levels): each kernel's level law is a product of per-pixel
cell masses (:mod:`genmodels.models.kde.diagonal`), so the posterior is exact
(:mod:`..products`). PCA kernel: every kernel is a Gaussian with the same covariance
``U_d h^2 diag(scale^2) U_d^T + U_r diag(residual) U_r^T`` around its training point, and the
mixture is conditioned in closed form (:mod:`..gaussian`; quantization ignored).
"""

from __future__ import annotations

import torch

from genmodels.models.kde.diagonal import cell_table
from genmodels.restoration.base import Restoration, Undefined, as_images, register_restorer
from genmodels.restoration.gaussian import GaussianMixture, affine_to_data, restore_gaussian_mixture
from genmodels.restoration.products import ProductMixture, log_uniform, posterior


@register_restorer("kde")
def restore_kde(model, obs, config, generator: torch.Generator, shared: dict | None = None) -> Restoration:  # noqa: ANN001
    levels = model.info.levels
    if levels is None:
        raise Undefined("kde restoration needs image data on discrete levels")
    model._check_fitted()
    n = len(model.support)
    if model.diagonal:
        table = cell_table(levels, model.pixel_scale * model.bandwidth)  # [d, a, b]: level a under the kernel at level b
        centres = torch.floor(model.support * levels).long()  # (n, D) kernel levels
        log_p = table.permute(0, 2, 1)[torch.arange(model.dim, device=centres.device)[None], centres]  # (n, D, K)
        pm = ProductMixture(log_uniform(n).to(log_p.device), log_p)
        mean, draws = posterior(pm, obs, config.completions, generator)
        return Restoration(as_images(mean, obs.shape), as_images(draws, obs.shape), True, "exact posterior on the levels (diagonal kernels)")
    d = model.kept
    scales = model._scales()
    lead = model.basis[:, :d] * scales
    rest = model.basis[:, d:]
    cov = model.bandwidth**2 * lead @ lead.T + rest @ torch.diag(model._residual_variances()) @ rest.T
    means = model.mean + (model.support * scales) @ model.basis[:, :d].T
    mix = affine_to_data(GaussianMixture(log_uniform(n).to(means.device), means, cov), levels)
    return restore_gaussian_mixture(mix, obs, config, generator, "Gaussian conditioning per kernel (PCA kernel, quantization ignored)")
