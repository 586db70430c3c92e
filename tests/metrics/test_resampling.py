"""Bootstrap intervals, PRDC at M = N and paired comparisons (across seeds too), against closed forms, the plain functions and simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from genmodels.metrics.fid import fid_from_features
from genmodels.metrics.kid import kid_from_features
from genmodels.metrics.prdc import prdc_from_features
from genmodels.metrics.resampling import (
    BootstrapSpec,
    FeatureGeometry,
    PrdcPoints,
    bootstrap,
    paired_probability,
    percentile_interval,
    prdc_points,
    seed_paired_probability,
    subset_kid,
    tied_groups,
    weighted_fid,
    weighted_mmd2,
    welch_seed_term,
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


# Comparisons across training seeds: the paired bootstrap widened by the between-seed spread.


def _paired_draws(rng: np.random.Generator, a: float, b: float, sd: float, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Resampled values of two models around their estimates, with a shared (real set) part."""
    shared = rng.normal(0.0, sd, n)
    return a + shared + rng.normal(0.0, sd, n), b + shared + rng.normal(0.0, sd, n)


def test_one_seed_or_identical_seeds_reduce_exactly_to_the_paired_bootstrap() -> None:
    rng = np.random.default_rng(5)
    a, b = _paired_draws(rng, 1.0, 1.05, 0.05)
    a[:7] = b[:7]  # ties count half in both
    for lower in (True, False):
        plain = paired_probability(a, b, lower)
        assert 0.05 < plain < 0.95
        assert seed_paired_probability(a, b, [1.0], [1.05], lower) == plain
        assert seed_paired_probability(a, b, [1.0] * 3, [1.05] * 4, lower) == plain  # every seed scores the same: se = 0


def test_a_bootstrap_without_spread_leaves_welchs_one_sided_t_test() -> None:
    """Constant draws: P(a better) = 1 - p of Welch's one-sided test that a's mean is lower."""
    a_seeds, b_seeds = np.array([0.29, 0.25, 0.28]), np.array([0.76, 0.37, 0.94, 0.61])
    prob = seed_paired_probability(np.full(50, a_seeds[0]), np.full(50, b_seeds[0]), a_seeds, b_seeds, lower_is_better=True)
    p_less = stats.ttest_ind(a_seeds, b_seeds, equal_var=False, alternative="less").pvalue
    assert prob == pytest.approx(1.0 - p_less, rel=1e-10)
    higher = seed_paired_probability(np.full(50, b_seeds[0]), np.full(50, a_seeds[0]), b_seeds, a_seeds, lower_is_better=False)
    assert higher == pytest.approx(1.0 - stats.ttest_ind(b_seeds, a_seeds, equal_var=False, alternative="greater").pvalue, rel=1e-10)


def test_welch_term_is_the_closed_form_and_a_single_seed_adds_nothing() -> None:
    a, b = np.array([1.0, 2.0, 4.0]), np.array([3.0, 3.5])
    va, vb = np.var(a, ddof=1) / 3, np.var(b, ddof=1) / 2
    se, dof = welch_seed_term(a, b)
    assert se == pytest.approx(np.sqrt(va + vb)) and dof == pytest.approx((va + vb) ** 2 / (va**2 / 2 + vb**2 / 1))
    se1, dof1 = welch_seed_term(a, np.array([9.0]))
    assert se1 == pytest.approx(np.sqrt(va)) and dof1 == pytest.approx(2.0)  # b's spread unknown: a's df alone
    assert welch_seed_term(np.array([1.0]), np.array([2.0, 2.0])) == (0.0, float("inf"))


def test_with_many_seeds_the_variance_is_the_bootstraps_plus_the_seed_means() -> None:
    """Large n: the t is normal and P = Phi(-mean(d') / sqrt(Var_boot(d) + s_a²/n_a + s_b²/n_b))."""
    rng = np.random.default_rng(6)
    a, b = _paired_draws(rng, 1.0, 1.1, 0.1, n=4000)
    a_seeds, b_seeds = rng.normal(1.0, 1.0, 400), rng.normal(1.1, 1.0, 300)
    a_seeds[0], b_seeds[0] = 1.0, 1.1
    d = a - b - (1.0 - 1.1) + (a_seeds.mean() - b_seeds.mean())
    var = d.var() + a_seeds.var(ddof=1) / 400 + b_seeds.var(ddof=1) / 300
    expected = stats.norm.cdf(-d.mean() / np.sqrt(var))
    assert seed_paired_probability(a, b, a_seeds, b_seeds, lower_is_better=True) == pytest.approx(expected, abs=0.01)


def test_simulated_equal_models_are_separated_at_most_at_the_nominal_rate() -> None:
    """Two models of the same true FID whose seeds spread widely (sd 0.3) and a tight bootstrap
    (sd 0.03): the bootstrap alone separates them most of the time, the seed-aware comparison
    about 5 % of the time or less; a true gap of 3.3 seed sd over 5 seeds is still found."""
    rng = np.random.default_rng(7)
    plain, with_seeds, found = [], [], []
    for _ in range(600):
        a_seeds, b_seeds = rng.normal(1.0, 0.3, 3), rng.normal(1.0, 0.3, 3)
        a, b = _paired_draws(rng, a_seeds[0], b_seeds[0], 0.03, n=200)
        plain.append(max(paired_probability(a, b, True), paired_probability(b, a, True)) >= 0.95)
        with_seeds.append(seed_paired_probability(a, b, a_seeds, b_seeds, True) >= 0.95)  # one-sided
        far = rng.normal(1.0, 0.3, 5), rng.normal(2.0, 0.3, 5)
        fa, fb = _paired_draws(rng, far[0][0], far[1][0], 0.03, n=200)
        found.append(seed_paired_probability(fa, fb, *far, True) >= 0.95)
    assert np.mean(plain) > 0.5
    assert np.mean(with_seeds) <= 0.065
    assert np.mean(found) > 0.97


def test_groups_use_seed_means_and_keep_apart_only_what_the_seeds_allow() -> None:
    """FID per seed as measured on digits: vae's seeds spread widely, so vae joins gmm even where
    the first seeds' bootstrap alone separates them; gan stays alone; ranking goes by seed means."""
    seeds = {"gan": [0.29, 0.25, 0.28], "gmm": [0.64, 0.57, 0.62], "vae": [0.37, 0.76, 0.94], "kde": [1.33, 1.66, 1.11]}
    rng = np.random.default_rng(8)
    shared = rng.normal(0.0, 0.01, 300)
    draws = {m: v[0] + shared + rng.normal(0.0, 0.01, 300) for m, v in seeds.items()}
    first = {m: v[0] for m, v in seeds.items()}
    assert tied_groups(first, draws, lower_is_better=True) == {"gan": 1, "vae": 2, "gmm": 3, "kde": 4}
    groups = tied_groups(first, draws, lower_is_better=True, seeds={m: np.array(v) for m, v in seeds.items()})
    assert groups == {"gan": 1, "gmm": 2, "vae": 2, "kde": 3}
    assert list(groups) == ["gan", "gmm", "vae", "kde"]  # vae's first seed is the better, its mean the worse
    with pytest.raises(ValueError, match="no values across seeds for kde"):
        tied_groups(first, draws, True, seeds={m: np.array(seeds[m]) for m in ("gan", "gmm", "vae")})


def test_comparisons_refuse_unpaired_draws() -> None:
    with pytest.raises(ValueError, match="same non-zero number of resamples"):
        seed_paired_probability(np.zeros(3), np.zeros(4), [1.0], [1.0], True)
    with pytest.raises(ValueError, match="at least one seed"):
        seed_paired_probability(np.zeros(3), np.zeros(3), [], [1.0], True)
