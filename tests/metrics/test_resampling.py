"""Bootstrap intervals and PRDC at M = N on cached features, against closed forms and the plain functions."""

from __future__ import annotations

import numpy as np
import pytest

from genmodels.metrics.fid import fid_from_features
from genmodels.metrics.kid import kid_from_features
from genmodels.metrics.prdc import prdc_from_features
from genmodels.metrics.resampling import (
    BootstrapSpec,
    FeatureGeometry,
    PrdcPoints,
    bootstrap,
    percentile_interval,
    prdc_points,
    subset_kid,
    weighted_fid,
    weighted_mmd2,
)

RNG = np.random.default_rng(0)
REAL = RNG.normal(size=(300, 16))
FAKE = RNG.normal(size=(900, 16)) * 1.2 + 0.2
GEOM = FeatureGeometry(REAL, FAKE)


def test_the_bootstrap_interval_of_a_mean_of_normals_matches_the_closed_form() -> None:
    """Per-point values x_i ~ N(0.5, 0.1²): the 95 % interval of their mean is mean ± 1.96 sd/sqrt(n)."""
    n = 2000
    x = np.random.default_rng(1).normal(0.5, 0.1, size=n)
    pts = PrdcPoints(precision=x, density=x, recall=np.zeros(10), coverage=np.zeros(10))
    est = {"precision": float(x.mean())}
    geom = FeatureGeometry(np.zeros((10, 1)), np.zeros((n, 1)))  # PRDC reads only the per-point values here
    lo, hi = bootstrap(geom, None, BootstrapSpec(2000, 0.95, 2), pts, 10, est)["precision"]
    half = 1.96 * x.std() / np.sqrt(n)
    assert lo == pytest.approx(x.mean() - half, abs=0.15 * half) and hi == pytest.approx(x.mean() + half, abs=0.15 * half)


def test_unit_weights_reproduce_the_plain_metrics() -> None:
    assert weighted_fid(GEOM, np.ones(300), np.ones(900)) == pytest.approx(fid_from_features(REAL, FAKE), rel=1e-9)
    kid, std = subset_kid(GEOM, subsets=7, subset_size=200, seed=3)
    assert (kid, std) == pytest.approx(kid_from_features(REAL, FAKE, subsets=7, subset_size=200, seed=3), rel=1e-9)
    # all-ones weights: the U-statistic over every pair is the unbiased MMD^2 of the full sets
    full = weighted_mmd2(FeatureGeometry(REAL[:200], FAKE[:200]), np.ones((200, 1)), np.ones((200, 1)))[0]
    assert full == pytest.approx(kid_from_features(REAL[:200], FAKE[:200], subsets=1, subset_size=200)[0], rel=1e-9)


def test_a_weighted_fid_is_the_fid_of_the_resample_written_out() -> None:
    """Multiplicity weights (zeros included) give the FID of the sets with rows repeated that often."""
    rng = np.random.default_rng(4)
    c_r, c_f = (np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64) for n in (300, 900))
    explicit = fid_from_features(np.repeat(REAL, c_r.astype(int), axis=0), np.repeat(FAKE, c_f.astype(int), axis=0))
    assert (c_r == 0).any() and weighted_fid(GEOM, c_r, c_f) == pytest.approx(explicit, rel=1e-9)


def test_prdc_at_m_equals_n_averages_subsamples_of_the_real_sets_size() -> None:
    pts = prdc_points(GEOM, k=5, repeats=4, seed=9)
    rng = np.random.default_rng(9)
    runs = [prdc_from_features(REAL, FAKE[np.sort(rng.choice(900, 300, replace=False))], k=5) for _ in range(4)]
    means = pts.means()
    for key in ("recall", "coverage"):  # computed on the M = N subsamples
        assert means[key] == pytest.approx(np.mean([r[key] for r in runs]), abs=1e-12)
    everything = prdc_from_features(REAL, FAKE, k=5)
    for key in ("precision", "density"):  # per sample: they do not saturate, so all samples count
        assert means[key] == pytest.approx(everything[key], abs=1e-12)


def test_coverage_at_m_equals_n_does_not_saturate_with_more_samples() -> None:
    real, fake = RNG.normal(size=(100, 8)), RNG.normal(size=(5000, 8)) + 0.5  # a visibly shifted model
    plain = prdc_from_features(real, fake, k=5)["coverage"]
    at_n = prdc_points(FeatureGeometry(real, fake), k=5, repeats=5, seed=0).means()["coverage"]
    assert plain > 0.99 and at_n < 0.9  # 50 samples per real point cover everything; 1 per point does not


def test_intervals_contain_the_estimate_and_shrink_with_more_data() -> None:
    def width(n: int) -> float:
        g = FeatureGeometry(REAL[:n], FAKE[:n])
        est = {"fid": fid_from_features(REAL[:n], FAKE[:n])}
        lo, hi = bootstrap(g, None, BootstrapSpec(100, 0.95, 0), None, 10, est)["fid"]
        assert lo <= est["fid"] <= hi
        return hi - lo

    assert width(300) < width(60)


def test_recentred_interval_keeps_the_spread_around_the_estimate() -> None:
    values = np.random.default_rng(3).normal(10.0, 1.0, size=20000)  # resamples shifted up by a bias of 10
    lo, hi = percentile_interval(values, 0.95, estimate=0.0)
    assert lo == pytest.approx(-1.96, abs=0.06) and hi == pytest.approx(1.96, abs=0.06)
