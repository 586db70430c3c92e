"""Gaussian-mixture maths (genmodels.models.core.mixture) against SciPy and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal
from sklearn.mixture import GaussianMixture

from genmodels.models.core.mixture import gaussian_mixture_log_density, gaussian_mixture_sample


def _fitted(covariance_type: str) -> GaussianMixture:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal([0, 0, 0], [1, 0.5, 2], (300, 3)), rng.normal([4, -2, 1], 0.7, (200, 3)) @ np.array([[1, 0.6, 0], [0, 1, 0.3], [0, 0, 1]])])
    return GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(x)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_density_matches_scipy(covariance_type: str) -> None:
    gm = _fitted(covariance_type)
    v = np.random.default_rng(1).normal(size=(50, 3)) * 2
    covs = gm.covariances_ if covariance_type == "full" else [np.diag(c) for c in gm.covariances_]
    expected = np.log(sum(w * multivariate_normal(m, c).pdf(v) for w, m, c in zip(gm.weights_, gm.means_, covs)))
    got = gaussian_mixture_log_density(torch.from_numpy(v), torch.from_numpy(np.log(gm.weights_)), torch.from_numpy(gm.means_), torch.from_numpy(gm.precisions_cholesky_))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-10)


def test_draws_follow_the_mixture() -> None:
    gm = _fitted("full")
    args = (torch.from_numpy(np.log(gm.weights_)), torch.from_numpy(gm.means_), torch.from_numpy(gm.precisions_cholesky_))
    z = gaussian_mixture_sample(200_000, *args, torch.Generator().manual_seed(0)).numpy()
    mean = gm.weights_ @ gm.means_
    second = sum(w * (c + np.outer(m, m)) for w, m, c in zip(gm.weights_, gm.means_, gm.covariances_))
    np.testing.assert_allclose(z.mean(0), mean, atol=0.02)
    np.testing.assert_allclose(np.cov(z.T, bias=True), second - np.outer(mean, mean), atol=0.05)
    again = gaussian_mixture_sample(10, *args, torch.Generator().manual_seed(0))
    assert torch.equal(again, gaussian_mixture_sample(10, *args, torch.Generator().manual_seed(0)))
