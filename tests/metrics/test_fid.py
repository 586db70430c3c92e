"""FID: statistics vs numpy, Fréchet distance vs closed forms and scipy's sqrtm."""

import numpy as np
import pytest
import scipy.linalg
import torch

from genmodels.metrics import feature_statistics, fid_from_features, frechet_distance
from genmodels.metrics.fid import trace_sqrt_product


def random_psd(rng: np.random.Generator, d: int, rank: int | None = None) -> np.ndarray:
    factor = rng.standard_normal((d, rank or d))
    return factor @ factor.T / d


def sqrtm_frechet(mu1, sigma1, mu2, sigma2) -> float:
    """pytorch-fid style reference: scipy sqrtm of the product, real part of its trace."""
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean).real)


def test_feature_statistics_match_numpy_cov():
    x = np.random.default_rng(0).standard_normal((500, 20)).astype(np.float32) * 3 + 1
    mu, sigma = feature_statistics(x)
    assert mu.dtype == np.float64 and sigma.dtype == np.float64
    assert mu.shape == (20,) and sigma.shape == (20, 20)
    np.testing.assert_allclose(mu, x.astype(np.float64).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(x.astype(np.float64), rowvar=False), rtol=1e-10)


def test_feature_statistics_batch_size_independent():
    x = np.random.default_rng(1).standard_normal((301, 13))
    mu_ref, sigma_ref = feature_statistics(x, batch_size=10_000)
    for batch_size in (1, 7, 64):
        mu, sigma = feature_statistics(x, batch_size=batch_size)
        np.testing.assert_allclose(mu, mu_ref, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(sigma, sigma_ref, rtol=1e-11, atol=1e-14)


def test_feature_statistics_accepts_torch():
    x = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    mu, sigma = feature_statistics(x)
    np.testing.assert_allclose(sigma, np.cov(x.double().numpy(), rowvar=False), rtol=1e-6)


def test_frechet_distance_diagonal_closed_form():
    rng = np.random.default_rng(2)
    mu1, mu2 = rng.standard_normal(30), rng.standard_normal(30)
    s1, s2 = rng.uniform(0.1, 3.0, 30), rng.uniform(0.1, 3.0, 30)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2)
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected, rel=1e-12)


def test_frechet_distance_matches_sqrtm_reference():
    rng = np.random.default_rng(3)
    for d in (2, 17, 64):
        mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
        s1, s2 = random_psd(rng, d), random_psd(rng, d)
        ours = frechet_distance(mu1, s1, mu2, s2)
        assert isinstance(ours, float)
        assert ours == pytest.approx(sqrtm_frechet(mu1, s1, mu2, s2), rel=1e-9)


def test_fid_of_identical_features_is_zero():
    x = np.random.default_rng(4).standard_normal((400, 32)).astype(np.float32)
    assert abs(fid_from_features(x, x)) < 1e-9


def test_fid_of_two_gaussian_samples_near_closed_form():
    rng = np.random.default_rng(5)
    real = rng.standard_normal((20_000, 4))
    fake = rng.standard_normal((20_000, 4)) * 2.0 + 0.5
    expected = 4 * 0.5**2 + 4 * (1.0 - 2.0) ** 2  # ||dmu||^2 + sum (sqrt s1 - sqrt s2)^2
    assert fid_from_features(real, fake) == pytest.approx(expected, rel=0.05)


def test_singular_covariances_are_real_and_exact():
    """n < d: both covariances are singular; compare with the nuclear-norm identity
    tr((S1 S2)^{1/2}) = ||A B^T||_* / sqrt((n1-1)(n2-1)) for centred data A, B."""
    rng = np.random.default_rng(6)
    real, fake = rng.standard_normal((12, 40)), rng.standard_normal((15, 40)) + 0.3
    a, b = real - real.mean(0), fake - fake.mean(0)
    nuclear = np.linalg.svd(a @ b.T, compute_uv=False).sum() / np.sqrt(11 * 14)
    s1, s2 = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    assert trace_sqrt_product(s1, s2) == pytest.approx(nuclear, rel=1e-7)
    fid = fid_from_features(real, fake)
    assert isinstance(fid, float) and np.isfinite(fid)
    diff = real.mean(0) - fake.mean(0)
    expected = diff @ diff + np.trace(s1) + np.trace(s2) - 2 * nuclear
    assert fid == pytest.approx(expected, rel=1e-7)


def test_exactly_singular_psd_uses_eigh_fallback():
    s1, s2 = np.diag([0.0, 1.0, 4.0]), np.diag([1.0, 0.0, 9.0])
    assert frechet_distance(np.zeros(3), s1, np.zeros(3), s2) == pytest.approx(3.0, abs=1e-12)
    low_rank = random_psd(np.random.default_rng(7), 20, rank=3)
    assert frechet_distance(np.zeros(20), low_rank, np.zeros(20), low_rank) == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize(
    ("real", "fake", "message"),
    [
        (np.zeros(5), np.zeros((5, 2)), "2-D"),
        (np.zeros((5, 3)), np.zeros((5, 2)), "dimensions differ"),
        (np.zeros((1, 2)), np.zeros((5, 2)), "at least 2"),
        (np.full((5, 2), np.nan), np.zeros((5, 2)), "NaN"),
        (np.zeros((5, 0)), np.zeros((5, 0)), "no feature"),
        (np.array([["a", "b"], ["c", "d"]]), np.zeros((2, 2)), "numeric"),
    ],
)
def test_fid_rejects_bad_input(real, fake, message):
    with pytest.raises(ValueError, match=message):
        fid_from_features(real, fake)


def test_frechet_distance_rejects_bad_statistics():
    with pytest.raises(ValueError, match="sigma1 must have shape"):
        frechet_distance(np.zeros(3), np.eye(2), np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match="dimensions differ"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(np.zeros(2), np.array([[np.inf, 0.0], [0.0, 1.0]]), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="batch_size"):
        feature_statistics(np.zeros((3, 2)), batch_size=0)
