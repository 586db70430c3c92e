"""GMM specifics: the torch density equals scikit-learn's, integrates to 1, samples the mixture."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.mixture import GaussianMixture

import genmodels.models.gmm  # noqa: F401  (registers the family)
from genmodels.data.base import DatasetInfo
from genmodels.errors import ConfigError
from genmodels.models import build_model

POINTS = DatasetInfo("toy2d", "points", (2,), None, None, (-3.0, 3.0))
IMAGE = DatasetInfo("digits", "image", (1, 4, 4), 17, None, (0.0, 1.0))


def three_blobs(n: int = 600, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.array([[-1.5, 0.0], [1.0, 1.0], [0.5, -1.5]])
    x = centres[rng.integers(0, 3, n)] + rng.normal(size=(n, 2)) @ np.array([[0.4, 0.1], [0.0, 0.25]])
    return x


@pytest.mark.parametrize("cov", ["full", "diag"])
def test_log_density_equals_sklearn_score_samples(cov: str) -> None:
    x = three_blobs()
    ref = GaussianMixture(3, covariance_type=cov, random_state=0).fit(x)
    model = build_model("gmm", {"n_components": 3, "covariance_type": cov}, POINTS)
    model.set_parameters(ref.weights_, ref.means_, ref.precisions_cholesky_)
    q = np.random.default_rng(1).normal(scale=2.0, size=(200, 2))
    ours = model.log_likelihood(torch.from_numpy(q), torch.Generator()).numpy()
    np.testing.assert_allclose(ours, ref.score_samples(q), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("cov", ["full", "diag"])
def test_fitted_density_integrates_to_one_on_a_grid(cov: str) -> None:
    model = build_model("gmm", {"n_components": 3, "covariance_type": cov}, POINTS)
    model.fit_direct(torch.from_numpy(three_blobs()), None, torch.Generator().manual_seed(0))
    axis = torch.linspace(-6.0, 6.0, 601, dtype=torch.float64)
    grid = torch.cartesian_prod(axis, axis)
    mass = model.log_likelihood(grid, torch.Generator()).exp().sum() * (axis[1] - axis[0]) ** 2
    assert abs(float(mass) - 1.0) < 1e-3


def test_full_covariance_samples_have_the_mixture_moments() -> None:
    cov = np.array([[[0.5, 0.3], [0.3, 0.4]], [[0.2, -0.1], [-0.1, 0.3]]])
    means = np.array([[-1.0, 2.0], [1.5, 0.0]])
    weights = np.array([0.3, 0.7])
    prec_chol = np.stack([np.linalg.inv(np.linalg.cholesky(c)).T for c in cov])  # sklearn's convention
    model = build_model("gmm", {"n_components": 2, "covariance_type": "full"}, POINTS)
    model.set_parameters(weights, means, prec_chol)
    s = model.sample(200_000, torch.Generator().manual_seed(0)).double().numpy()
    mean = weights @ means
    second = sum(w * (c + np.outer(m, m)) for w, c, m in zip(weights, cov, means))
    np.testing.assert_allclose(s.mean(0), mean, atol=0.01)
    np.testing.assert_allclose(np.cov(s, rowvar=False), second - np.outer(mean, mean), atol=0.01)
    at_zero = model.sample(5, torch.Generator().manual_seed(0), temperature=0.0)
    assert all(any(torch.allclose(row.double(), torch.from_numpy(m)) for m in means) for row in at_zero)


def test_image_samples_in_range_and_fit_is_deterministic_for_a_seed() -> None:
    x = torch.round(torch.rand(200, *IMAGE.shape, generator=torch.Generator().manual_seed(0)) * 16) / 16
    fits = []
    for seed in (3, 3, 4):
        model = build_model("gmm", {"n_components": 4}, IMAGE)
        stats = model.fit_direct(x, None, torch.Generator().manual_seed(seed))
        fits.append(model.state_dict())
    assert stats["converged"] == 1.0
    assert all(torch.equal(fits[0][k], fits[1][k]) for k in fits[0])
    assert not torch.equal(fits[0]["means"], fits[2]["means"])  # another seed, another dequantization
    s = model.sample(50, torch.Generator().manual_seed(1))
    assert s.shape == (50, *IMAGE.shape) and s.dtype == torch.float32
    assert 0.0 <= float(s.min()) and float(s.max()) <= 1.0


def test_bad_input_is_rejected() -> None:
    model = build_model("gmm", {"n_components": 3}, POINTS)
    with pytest.raises(RuntimeError, match="not fitted"):
        model.sample(2, torch.Generator())
    with pytest.raises(ValueError, match="fewer than n_components"):
        model.fit_direct(torch.zeros(2, 2), None, torch.Generator())
    model.fit_direct(torch.from_numpy(three_blobs()).float(), None, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="shape"):
        model.log_likelihood(torch.zeros(4, 3), torch.Generator())
    with pytest.raises(ValueError, match="temperature"):
        model.sample(2, torch.Generator(), temperature=-1.0)
    with pytest.raises(ValueError, match="sum to 1"):
        model.set_parameters(np.full(3, 0.5), np.zeros((3, 2)), np.ones((3, 2)))
    with pytest.raises(ConfigError, match="covariance_type"):
        build_model("gmm", {"covariance_type": "tied"}, POINTS)
