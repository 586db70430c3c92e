"""KDE specifics: a plain KDE in 2-D equals scikit-learn's, the PCA split density integrates to 1."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neighbors import KernelDensity

import genmodels.models.kde  # noqa: F401  (registers the family)
from genmodels.data.base import DatasetInfo
from genmodels.errors import ConfigError
from genmodels.models import build_model
from genmodels.models.kde.model import cv_scores, kept_dims

POINTS = DatasetInfo("toy2d", "points", (2,), None, None, (-3.0, 3.0))
IMAGE = DatasetInfo("digits", "image", (1, 4, 4), 17, None, (0.0, 1.0))


def correlated_points(n: int = 400, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)) @ np.array([[1.0, 0.6], [0.0, 0.3]]) + np.array([0.5, -0.2])
    x[: n // 3] += np.array([1.5, 1.0])  # a second mode
    return torch.from_numpy(x)


def test_without_reduction_it_equals_sklearn_kernel_density() -> None:
    x = correlated_points()
    model = build_model("kde", {}, POINTS)  # n_components 24 >= 2 dims: nothing is discarded
    stats = model.fit_direct(x, None, torch.Generator().manual_seed(0))
    assert stats["kde_dims"] == 2 and stats["bandwidth_at_grid_edge"] == 0.0
    h = float(model.bandwidth)
    # near the data: sklearn's tree sums lose accuracy where the density is below ~e^-30
    q = x.numpy()[:200] + np.random.default_rng(1).normal(scale=0.5, size=(200, 2))
    ref = KernelDensity(kernel="gaussian", bandwidth=h).fit(x.numpy())
    ours = model.log_likelihood(torch.from_numpy(q), torch.Generator()).numpy()
    np.testing.assert_allclose(ours, ref.score_samples(q), rtol=1e-9, atol=1e-9)
    far = np.array([[9.0, -7.0], [-12.0, 4.0]])  # brute force log-sum-exp where the density is ~e^-1000
    d2 = ((far[:, None, :] - x.numpy()[None]) ** 2).sum(-1)
    brute = logsumexp(-d2 / (2 * h * h), axis=1) - np.log(len(x)) - np.log(2 * np.pi * h * h)
    np.testing.assert_allclose(model.log_likelihood(torch.from_numpy(far), torch.Generator()).numpy(), brute, rtol=1e-12)


def test_cv_scores_equal_grid_search_cv() -> None:
    x = correlated_points(150).numpy()
    bandwidths = np.geomspace(0.05, 2.0, 7)
    folds = list(KFold(5, shuffle=True, random_state=3).split(x))
    ref = GridSearchCV(KernelDensity(kernel="gaussian"), {"bandwidth": bandwidths}, cv=folds).fit(x)
    ours = cv_scores(torch.from_numpy(x), torch.from_numpy(bandwidths), folds).numpy()
    np.testing.assert_allclose(ours, ref.cv_results_["mean_test_score"], rtol=1e-9)
    assert int(np.argmax(ours)) == ref.best_index_


@pytest.mark.parametrize(
    "cfg",
    [{}, {"n_components": 1}, {"n_components": 1, "residual": "isotropic"}, {"n_components": 1, "whiten": True}, {"whiten": True}],
)
def test_density_integrates_to_one_on_a_grid(cfg: dict) -> None:
    model = build_model("kde", cfg, POINTS)
    model.fit_direct(correlated_points(), None, torch.Generator().manual_seed(0))
    axis = torch.linspace(-6.0, 7.0, 261, dtype=torch.float64)  # step 0.05, a quarter of the bandwidth
    grid = torch.cartesian_prod(axis, axis)
    mass = model.log_likelihood(grid, torch.Generator()).exp().sum() * (axis[1] - axis[0]) ** 2
    assert abs(float(mass) - 1.0) < 2e-3


def test_kept_dims_by_count_or_variance_fraction() -> None:
    lam = np.array([5.0, 3.0, 1.5, 0.5])
    assert kept_dims(2, lam) == 2 and kept_dims(9, lam) == 4
    assert kept_dims(0.8, lam) == 2 and kept_dims(0.81, lam) == 3 and kept_dims(1.0, lam) == 4


def test_image_fit_is_deterministic_and_samples_in_range() -> None:
    x = torch.round(torch.rand(120, *IMAGE.shape, generator=torch.Generator().manual_seed(0)) * 16) / 16
    states = []
    for seed in (5, 5, 6):
        model = build_model("kde", {"n_components": 0.5, "kernel": "pca"}, IMAGE)
        stats = model.fit_direct(x, None, torch.Generator().manual_seed(seed))
        states.append(model.state_dict())
    assert 1 <= stats["kde_dims"] < 16 and stats["explained_variance"] >= 0.5
    assert states[0].keys() == states[1].keys()
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert not torch.equal(states[0]["support"], states[2]["support"])
    s = model.sample(40, torch.Generator().manual_seed(1))
    assert s.shape == (40, *IMAGE.shape) and s.dtype == torch.float32
    assert 0.0 <= float(s.min()) and float(s.max()) <= 1.0
    s0 = model.sample(3, torch.Generator().manual_seed(1), temperature=0.0)  # exactly the training points' PCA part
    assert torch.isfinite(model.log_likelihood(s0.double() * 16 / 17 + 0.5 / 17, torch.Generator())).all()


def test_bad_config_and_input_are_rejected() -> None:
    for bad in ({"n_components": 0}, {"n_components": 1.5}, {"bandwidth_min": 3.0}, {"kernel": "tophat"}):
        with pytest.raises(ConfigError):
            build_model("kde", bad, POINTS)
    model = build_model("kde", {"cv_folds": 5}, POINTS)
    with pytest.raises(RuntimeError, match="not fitted"):
        model.log_likelihood(torch.zeros(1, 2), torch.Generator())
    with pytest.raises(ValueError, match="cv_folds"):
        model.fit_direct(torch.zeros(3, 2), None, torch.Generator())
    model.fit_direct(correlated_points(), None, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="shape"):
        model.log_likelihood(torch.zeros(4, 1, 2), torch.Generator())


def test_diagonal_kernel_discrete_likelihood_is_the_mixture_of_cell_masses() -> None:
    """The table-and-matmul route equals ``log 1/n sum_j prod_d`` of Gaussian cell masses computed directly."""
    from genmodels.models.core.dequantize import level_edges, log_normal_cell_mass

    x = torch.round(torch.rand(120, *IMAGE.shape, generator=torch.Generator().manual_seed(0)) * 16) / 16
    model = build_model("kde", {}, IMAGE)
    assert model.diagonal and model.discrete_likelihood_kind() == "exact"
    model.fit_direct(x, None, torch.Generator().manual_seed(0))
    q = x[:7]
    ours = model.discrete_log_prob(q, torch.Generator())
    lo, hi = level_edges(q.reshape(7, 1, -1).double(), 17)
    widths = (model.pixel_scale * model.bandwidth).log()
    direct = log_normal_cell_mass(lo, hi, model.support[None], widths).sum(-1)
    torch.testing.assert_close(ours, torch.logsumexp(direct, 1) - math.log(len(model.support)))
    s = model.sample(50, torch.Generator().manual_seed(1))
    torch.testing.assert_close(s * 16, torch.round(s * 16))  # draws at the levels


@pytest.mark.parametrize("kernel", ["pca", "diagonal"])
def test_a_fitted_kde_reloads_from_its_checkpoint_folder(kernel: str, tmp_path) -> None:
    """The support points take their shape from the data: load_model must accept it (it did not once)."""
    from genmodels.models import build_model
    from genmodels.training import checkpoint as ckpt

    g = torch.Generator().manual_seed(0)
    x = torch.round(torch.rand((300, *IMAGE.shape), generator=g) * 16) / 16
    model = build_model("kde", {"kernel": kernel}, IMAGE)
    model.fit_direct(x, None, torch.Generator().manual_seed(0))
    ckpt.write_model(tmp_path, model, "kde")
    loaded = ckpt.load_model(tmp_path)
    torch.testing.assert_close(loaded.sample(5, torch.Generator().manual_seed(1)), model.sample(5, torch.Generator().manual_seed(1)))
