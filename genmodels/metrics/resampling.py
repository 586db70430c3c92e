"""Resampled sample metrics on cached features: PRDC at M = N and 95 % bootstrap intervals.

Everything here reads one :class:`FeatureGeometry` (the Gram matrices of the real and sample
features, formed once), so an interval costs matrix products on arrays already in memory,
never a new feature extraction.

* **PRDC at M = N** (Naeem et al. 2020): with more samples than real points, coverage
  saturates just because more samples were drawn; the samples are therefore subsampled to
  the real set's size without replacement, ``repeats`` times (seeded), and the four numbers
  averaged.
* **Bootstrap** (Efron & Tibshirani 1993): each resample draws the real set and the samples
  with replacement, jointly, as multiplicity weights ``c``; a metric is recomputed on the
  weighted sets and the interval is the 2.5th-97.5th percentile spread over resamples,
  re-centred on the estimate (:func:`percentile_interval`). FID uses the
  weighted mean and covariance; KID the weighted U-statistic
  ``sum_{i != j} c_i c_j k(x_i, x_j) / ((sum c)^2 - sum c^2)`` (the plain unbiased MMD^2 when
  every weight is 1); IS the resampled logits over the same splits; PRDC the weighted means
  of its per-point values (:class:`PrdcPoints`; the k-NN balls are those of the full sets,
  since duplicated points would shrink them).
* **Comparisons** (:func:`tied_groups`): the real set's weights are shared by every model
  evaluated with the same seed, so two models are compared resample by resample (a paired
  bootstrap); with several training seeds the difference of the seed means is judged against
  that bootstrap convolved with a Welch t for the between-seed spread (:func:`seed_paired_probability`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.linalg.blas import dsyrk
from scipy.special import stdtr  # Student's t CDF, stdtr(dof, x): what scipy.stats.t.cdf computes, without its import

from genmodels.metrics import defaults
from genmodels.metrics.fid import frechet_distance
from genmodels.metrics.inception_score import inception_score

class FeatureGeometry:
    """Gram matrices of real (r) and sample (f) features, in float64, and KID's kernels from them.

    Memory: the three Gram matrices and the three kernels, 6 · 8 · n² bytes for n points per
    set (4.8 GB at n = 10 000); squared distances are formed when asked and not kept.
    """

    @staticmethod
    def fits(n_real: int, n_fake: int, limit: int) -> bool:
        """Whether sets of these sizes stay within ``limit`` points (``evaluate.geometry_max_points``)."""
        return max(n_real, n_fake) <= limit

    def __init__(self, real: np.ndarray, fake: np.ndarray, degree: int = defaults.KID_DEGREE) -> None:
        self.real, self.fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
        self.dim = self.real.shape[1]
        self.degree = degree
        self._gram = {"rr": self.real @ self.real.T, "ff": self.fake @ self.fake.T, "rf": self.real @ self.fake.T}
        self._sq = {"r": np.diagonal(self._gram["rr"]).copy(), "f": np.diagonal(self._gram["ff"]).copy()}
        self._kernels: dict[str, np.ndarray] = {}
        both = np.concatenate([self.real, self.fake])
        self.live_dims = np.flatnonzero(both.max(0) > both.min(0))  # features that vary somewhere

    def d2(self, part: str) -> np.ndarray:
        """Squared Euclidean distances of part "rr", "ff" or "rf" (clipped at 0), a new array each call."""
        a, b = self._sq[part[0]], self._sq[part[1]]
        out = self._gram[part] * -2.0
        out += a[:, None]
        out += b[None, :]
        return np.maximum(out, 0.0, out=out)

    def kernel(self, part: str) -> np.ndarray:
        """KID's polynomial kernel (x.y/d + 1)^degree of part "rr", "ff" or "rf"."""
        if part not in self._kernels:
            self._kernels[part] = (self._gram[part] / self.dim + 1.0) ** self.degree
        return self._kernels[part]


def knn_radii(d2: np.ndarray, k: int) -> np.ndarray:
    """Squared distance of each row's k-th nearest neighbour, itself excluded (``d2`` square)."""
    if len(d2) <= k:
        raise ValueError(f"PRDC needs more than k={k} points per set, got {len(d2)}")
    d = d2.copy()
    np.fill_diagonal(d, np.inf)
    return np.partition(d, k - 1, axis=1)[:, k - 1]


def _own_knn_radii(d2: np.ndarray, k: int) -> np.ndarray:
    """:func:`knn_radii` on a matrix the caller no longer needs (no copy)."""
    if len(d2) <= k:
        raise ValueError(f"PRDC needs more than k={k} points per set, got {len(d2)}")
    np.fill_diagonal(d2, np.inf)
    return np.partition(d2, k - 1, axis=1)[:, k - 1]


@dataclass(frozen=True)
class PrdcPoints:
    """PRDC as means of per-point values, so a bootstrap reweights points without new k-NN searches.

    ``precision``/``density``: per sample (inside some real ball; real balls holding it / k),
    over all samples (they do not saturate with more samples). ``recall``/``coverage``: per
    real point, averaged over the M = N subsamples of the samples.
    """

    precision: np.ndarray
    density: np.ndarray
    recall: np.ndarray
    coverage: np.ndarray

    def means(self, c_r: np.ndarray | None = None, c_f: np.ndarray | None = None) -> dict[str, float]:
        w = lambda v, c: float(v.mean() if c is None else c @ v / c.sum())  # noqa: E731
        return {"precision": w(self.precision, c_f), "recall": w(self.recall, c_r), "density": w(self.density, c_f), "coverage": w(self.coverage, c_r)}


def prdc_points(geom: FeatureGeometry, k: int, repeats: int, seed: int) -> PrdcPoints:
    """Per-point PRDC values (Naeem et al. 2020) with the samples subsampled to M = N for recall and coverage."""
    n_r, n_f = len(geom.real), len(geom.fake)
    r_rad = _own_knn_radii(geom.d2("rr"), k)
    d_rf = geom.d2("rf")
    inside_real = d_rf < r_rad[:, None]  # (n_r, n_f): sample j inside real i's ball
    rng = np.random.default_rng(seed)
    draws = [np.arange(n_f)] if n_f <= n_r else [np.sort(rng.choice(n_f, n_r, replace=False)) for _ in range(repeats)]
    recall, coverage = np.zeros(n_r), np.zeros(n_r)
    d_ff = geom.d2("ff")
    for f_idx in draws:
        f_rad = knn_radii(d_ff if len(draws) == 1 else d_ff[np.ix_(f_idx, f_idx)], k)
        recall += (d_rf[:, f_idx] < f_rad[None, :]).any(1)
        coverage += inside_real[:, f_idx].any(1)
    return PrdcPoints(precision=inside_real.any(0).astype(np.float64), density=inside_real.sum(0) / k,
                      recall=recall / len(draws), coverage=coverage / len(draws))  # fmt: skip


def _counts(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    return np.bincount(rng.integers(0, n, size), minlength=n).astype(np.float64)


def weighted_fid(geom: FeatureGeometry, c_r: np.ndarray, c_f: np.ndarray) -> float:
    """FID between the weighted sets (weighted mean, unbiased weighted covariance; Heusel et al. 2017).

    A resample leaves about 37 % of the points out; their rows are dropped before the
    second moment, which is a symmetric rank-k update (BLAS ``syrk``, half a matrix product).
    """

    def stats(x: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keep = c > 0
        x, c = x[keep], c[keep]
        n = c.sum()
        mu = c @ x / n
        xw = (x - mu) * np.sqrt(c)[:, None]
        upper = dsyrk(1.0 / (n - 1), xw.T, trans=0)  # xw^T xw / (n - 1), upper triangle filled
        return mu, np.triu(upper) + np.triu(upper, 1).T

    live = geom.live_dims  # constant features add exactly 0 to FID but make every covariance singular
    return frechet_distance(*stats(geom.real[:, live], c_r), *stats(geom.fake[:, live], c_f))


def subset_kid(geom: FeatureGeometry, subsets: int, subset_size: int, seed: int) -> tuple[float, float]:
    """KID over the same seeded subsets as :func:`~genmodels.metrics.kid.kid_from_features`, from the cached kernels."""
    from genmodels.metrics.kid import subset_indices

    real_idx, fake_idx = subset_indices(len(geom.real), len(geom.fake), subsets, subset_size, seed)
    w_r, w_f = np.zeros((len(geom.real), subsets)), np.zeros((len(geom.fake), subsets))
    w_r[real_idx, np.arange(subsets)[:, None]] = 1.0
    w_f[fake_idx, np.arange(subsets)[:, None]] = 1.0
    mmds = weighted_mmd2(geom, w_r, w_f)
    return float(mmds.mean()), float(mmds.std())


def weighted_mmd2(geom: FeatureGeometry, c_r: np.ndarray, c_f: np.ndarray) -> np.ndarray:
    """KID's MMD^2 as a weighted U-statistic, one value per weight column (c_* are (n, B))."""

    def within(part: str, c: np.ndarray) -> np.ndarray:
        kern = geom.kernel(part)
        total = np.einsum("ib,ib->b", c, kern @ c) - np.einsum("ib,i->b", c * c, np.diagonal(kern))
        return total / (c.sum(0) ** 2 - (c * c).sum(0))

    cross = np.einsum("ib,ib->b", c_r, geom.kernel("rf") @ c_f) / (c_r.sum(0) * c_f.sum(0))
    return within("rr", c_r) + within("ff", c_f) - 2.0 * cross


@dataclass(frozen=True)
class BootstrapSpec:
    resamples: int = defaults.BOOTSTRAP_RESAMPLES
    level: float = defaults.CI_LEVEL
    seed: int = 0


def percentile_interval(values: np.ndarray, level: float, estimate: float | None = None) -> tuple[float, float]:
    """The ``level`` percentile interval of the resampled values, re-centred on ``estimate``.

    Resampling with replacement repeats points, which shifts small-sample-biased statistics
    such as FID upward by about their own bias; the interval keeps the resampled spread on
    each side of the median but is placed around the estimate: ``[est - (med - q_lo), est + (q_hi - med)]``.
    """
    lo, med, hi = np.percentile(values, [50 * (1 - level), 50, 50 * (1 + level)])
    if estimate is None:
        return float(lo), float(hi)
    return float(estimate - (med - lo)), float(estimate + (hi - med))


def resampled_values(
    geom: FeatureGeometry, fake_logits: np.ndarray | None, spec: BootstrapSpec, points: PrdcPoints | None, is_splits: int,
    wanted: tuple[str, ...],
) -> dict[str, np.ndarray]:
    """Each wanted metric on ``spec.resamples`` joint resamples (one value per resample).

    The real set's weights are drawn first from the seed, so every model evaluated with the
    same seed against the same real set shares them: differences between two models can be
    compared resample by resample (a paired bootstrap).
    """
    rng = np.random.default_rng(spec.seed)
    n_r, n_f, b_all = len(geom.real), len(geom.fake), range(spec.resamples)
    c_r = np.stack([_counts(rng, n_r, n_r) for _ in b_all], axis=1)
    c_f = np.stack([_counts(rng, n_f, n_f) for _ in b_all], axis=1)
    out: dict[str, np.ndarray] = {}
    if "fid" in wanted:
        out["fid"] = np.array([weighted_fid(geom, c_r[:, b], c_f[:, b]) for b in b_all])
    if "kid" in wanted:
        out["kid"] = weighted_mmd2(geom, c_r, c_f)
    if "is" in wanted and fake_logits is not None:
        logits = torch.from_numpy(np.asarray(fake_logits))
        out["is"] = np.array([inception_score(logits[np.repeat(np.arange(n_f), c_f[:, b].astype(int))], splits=is_splits)[0] for b in b_all])
    prdc_keys = [key for key in ("precision", "recall", "density", "coverage") if key in wanted]
    if prdc_keys and points is not None:
        runs = [points.means(c_r[:, b], c_f[:, b]) for b in b_all]
        out.update({key: np.array([r[key] for r in runs]) for key in prdc_keys})
    return out


def bootstrap(
    geom: FeatureGeometry, fake_logits: np.ndarray | None, spec: BootstrapSpec, points: PrdcPoints | None, is_splits: int,
    estimates: dict[str, float],
) -> dict[str, tuple[float, float]]:
    """``spec.level`` intervals, re-centred on ``estimates``, of those metrics over joint resamples."""
    draws = resampled_values(geom, fake_logits, spec, points, is_splits, tuple(estimates))
    return {m: _clip(m, *percentile_interval(v, spec.level, estimates[m])) for m, v in draws.items()}


def intervals_from(draws: dict[str, np.ndarray], estimates: dict[str, float], level: float) -> dict[str, tuple[float, float]]:
    return {m: _clip(m, *percentile_interval(v, level, estimates[m])) for m, v in draws.items()}


def paired_probability(a: np.ndarray, b: np.ndarray, lower_is_better: bool) -> float:
    """P(a better than b) over shared resamples (ties count half)."""
    better = (a < b) if lower_is_better else (a > b)
    return float(np.mean(better) + 0.5 * np.mean(a == b))


def welch_seed_term(a_seeds: np.ndarray, b_seeds: np.ndarray) -> tuple[float, float]:
    """Standard error of the difference of two seed means and its Welch–Satterthwaite degrees of freedom.

    ``se² = s_a²/n_a + s_b²/n_b`` (``s²`` the sample variance across seeds, n − 1 in the
    denominator) and ``ν = se⁴ / (Σ (s²/n)² / (n − 1))`` (Welch 1947). A model with one seed
    adds nothing (its spread is unknown, not zero); ``(0.0, inf)`` when neither adds anything.
    """
    parts = [(float(np.var(x, ddof=1)) / len(x), len(x)) for x in (a_seeds, b_seeds) if len(x) > 1]
    se2 = sum(v for v, _ in parts)
    if se2 == 0.0:
        return 0.0, float("inf")
    return float(np.sqrt(se2)), se2**2 / sum(v**2 / (n - 1) for v, n in parts if v > 0)


def seed_paired_probability(a: np.ndarray, b: np.ndarray, a_seeds: np.ndarray, b_seeds: np.ndarray, lower_is_better: bool) -> float:
    """P(model a better than model b) from the paired bootstrap of their first seeds and the spread over seeds.

    ``a``/``b``: the first seed's values on the shared resamples; ``a_seeds``/``b_seeds``: each
    model's estimate under every training seed, the first seed's (the one resampled) first.
    The first seed's paired differences ``d_r = a_r − b_r`` are moved onto the difference of
    the seed means, ``d'_r = d_r − (a₁ − b₁) + (ā − b̄)``, and each is widened by the
    between-seed term ``se · T`` with ``T ~ t_ν`` (:func:`welch_seed_term`)::

        P(a better) = 1/R Σ_r F_ν(−d'_r / se)      (lower is better; F_ν(+d'_r / se) when higher is)

    i.e. the distribution of the difference of the models' means over training seeds is the
    paired bootstrap's (sample noise: test set and samples resampled jointly) convolved with a
    scaled Welch t (training seeds), so its variance is ``Var_boot(d) + se² ν/(ν − 2)``, which
    tends to ``Var_boot(d) + s_a²/n_a + s_b²/n_b`` as ν grows (heavier tails with few seeds).
    It reduces exactly to
    :func:`paired_probability` when both models have one seed, or every seed scores the same
    (``se = 0``: the t's CDF becomes the step, ties count half); with a bootstrap of zero
    spread it is a one-sided Welch t-test on the seed values. It is conservative: the
    between-seed variance also holds each seed's own sample noise, which the bootstrap term
    counts once more (the extra seeds are scored without a bootstrap, so the two cannot be
    separated); the test set's part is rightly not divided by n, as every seed is scored on it.
    """
    a_seeds, b_seeds = np.asarray(a_seeds, np.float64), np.asarray(b_seeds, np.float64)
    if len(a_seeds) < 1 or len(b_seeds) < 1:
        raise ValueError("each model needs its value under at least one seed")
    if len(a) != len(b) or len(a) == 0:
        raise ValueError(f"paired comparison needs the same non-zero number of resamples, got {len(a)} and {len(b)}")
    shift = float(np.mean(a_seeds - a_seeds[0]) - np.mean(b_seeds - b_seeds[0]))  # exactly 0 when every seed scores the same
    se, dof = welch_seed_term(a_seeds, b_seeds)
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64) + shift
    if not lower_is_better:
        d = -d  # "a better" is now d < 0 either way
    if se == 0.0:
        return float(np.mean(d < 0) + 0.5 * np.mean(d == 0))
    return float(np.mean(stdtr(dof, -d / se)))


def tied_groups(
    estimates: dict[str, float], draws: dict[str, np.ndarray], lower_is_better: bool, confidence: float = 0.95,
    seeds: dict[str, np.ndarray] | None = None,
) -> dict[str, int]:
    """Group the models that the data cannot separate: model -> group (1 = best).

    Models with draws are ranked best first by ``estimates`` (by their seed means when
    ``seeds`` is given); a model opens a new group when the current group's leader beats it
    with probability ≥ ``confidence`` (:func:`paired_probability` on the shared resamples, or
    :func:`seed_paired_probability` with each model's values under every seed), otherwise it
    joins the leader's group.
    """
    if seeds is not None:
        missing = sorted(set(draws) - set(seeds))
        if missing:
            raise ValueError(f"no values across seeds for {', '.join(missing)}")
        estimates = {m: float(np.mean(seeds[m])) for m in draws}

    def beats(leader: str, other: str) -> float:
        if seeds is None:
            return paired_probability(draws[leader], draws[other], lower_is_better)
        return seed_paired_probability(draws[leader], draws[other], seeds[leader], seeds[other], lower_is_better)

    ranked = sorted((m for m in draws if estimates.get(m) is not None), key=lambda m: estimates[m], reverse=not lower_is_better)
    groups: dict[str, int] = {}
    leader = None
    for m in ranked:
        if leader is None or beats(leader, m) >= confidence:
            leader = m
            groups[m] = len(set(groups.values())) + 1
        else:
            groups[m] = groups[leader]
    return groups


#: Ranges of the metrics (KID is an unbiased estimate and may be negative).
RANGES = {"fid": (0.0, np.inf), "is": (1.0, np.inf), "precision": (0.0, 1.0), "recall": (0.0, 1.0), "density": (0.0, np.inf), "coverage": (0.0, 1.0)}


def _clip(metric: str, lo: float, hi: float) -> tuple[float, float]:
    """Keep a re-centred interval inside the metric's range."""
    low, high = RANGES.get(metric, (-np.inf, np.inf))
    return float(min(max(lo, low), high)), float(min(max(hi, low), high))
