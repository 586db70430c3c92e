"""Sample-quality metrics on extractor features: FID, KID, Inception Score, PRDC, and their intervals.

KID, PRDC and the bootstrap read one :class:`~genmodels.metrics.resampling.FeatureGeometry`
(the Gram matrices, formed once per evaluation); above ``evaluate.geometry_max_points``
points per set KID and PRDC fall back to the blocked functions and no intervals are given.
"""

from __future__ import annotations

import numpy as np
import torch

from genmodels.metrics.fid import fid_from_features
from genmodels.metrics.inception_score import inception_score
from genmodels.metrics.kid import SubsetKernelSums, kid_from_features
from genmodels.metrics.prdc import prdc_from_features
from genmodels.metrics.registry import EvalInputs, MetricKey, Undefined, register_metric
from genmodels.metrics.resampling import BootstrapSpec, FeatureGeometry, PrdcPoints, intervals_from, prdc_points, resampled_values, subset_kid

ORDER = 10  # where these keys stand among the built-ins' (see genmodels.metrics.builtin)

WITH_INTERVALS = ("fid", "kid", "is", "precision", "recall", "density", "coverage")
INTERVAL_DOC = ("95 % percentile bootstrap interval (`ci_level`): real and sample features resampled jointly, "
                "`bootstrap` seeded resamples on the cached features (FID: weighted moments; KID: weighted U-statistic; "
                "PRDC: per-point values reweighted)")


def geometry(inp: EvalInputs) -> FeatureGeometry | None:
    """The cached Gram matrices of these inputs, or None when the sets are too large to hold them."""
    r, f = inp.real["features"], inp.fake["features"]
    if "geometry" not in inp.cache:
        inp.cache["geometry"] = FeatureGeometry(r, f) if FeatureGeometry.fits(len(r), len(f), inp.cfg.geometry_max_points) else None
    return inp.cache["geometry"]


def points(inp: EvalInputs) -> PrdcPoints | None:
    if "prdc_points" not in inp.cache:
        geom = geometry(inp)
        inp.cache["prdc_points"] = None if geom is None else prdc_points(geom, inp.cfg.prdc_k, inp.cfg.prdc_repeats, inp.seed)
    return inp.cache["prdc_points"]


@register_metric("fid", [MetricKey("fid", "lower", "Fréchet distance of Gaussians fitted to the real and sample features, float64 covariances (Heusel et al. 2017)")], per_epoch=True)
def fid(inp: EvalInputs) -> dict[str, float]:
    return {"fid": fid_from_features(inp.real["features"], inp.fake["features"])}


@register_metric(
    "kid",
    [MetricKey("kid", "lower", "unbiased MMD² with kernel (x·y/d + 1)³, mean over `kid_subsets` seeded subsets of min(`kid_subset_size`, n) samples (Bińkowski et al. 2018)"),
     MetricKey("kid_std", None, "standard deviation of KID over the subsets")],
    per_epoch=True,
)  # fmt: skip
def kid(inp: EvalInputs) -> dict[str, float]:
    r, f, cfg = inp.real["features"], inp.fake["features"], inp.cfg
    size = min(cfg.kid_subset_size, len(r), len(f))
    geom = geometry(inp) if inp.cache.get("use_geometry", True) else None
    if geom is not None:
        value, std = subset_kid(geom, cfg.kid_subsets, size, inp.seed)
    elif _fused(inp):
        value, std = _fused_prdc_kid(inp)[1]
    else:
        value, std = kid_from_features(r, f, subsets=cfg.kid_subsets, subset_size=size, seed=inp.seed)
    return {"kid": value, "kid_std": std}


def _fused(inp: EvalInputs) -> bool:
    """Large sets without M = N subsampling: KID's subset sums can ride on PRDC's distance blocks."""
    r, f, cfg = inp.real["features"], inp.fake["features"], inp.cfg
    return len(f) <= len(r) and max(len(r), len(f)) <= cfg.kid_subsets * min(cfg.kid_subset_size, len(r), len(f))


def _fused_prdc_kid(inp: EvalInputs) -> tuple[dict[str, float], tuple[float, float]]:
    """PRDC and KID from one pass over the Gram blocks (same values as separate calls, tested)."""
    if "prdc+kid" not in inp.cache:
        r, f, cfg = inp.real["features"], inp.fake["features"], inp.cfg
        size = min(cfg.kid_subset_size, len(r), len(f))
        sums = SubsetKernelSums(len(r), len(f), r.shape[1], subsets=cfg.kid_subsets, subset_size=size, seed=inp.seed)
        inp.cache["prdc+kid"] = (prdc_from_features(r, f, k=cfg.prdc_k, kid=sums), sums.result())
    return inp.cache["prdc+kid"]


@register_metric(
    "is",
    [MetricKey("is", "higher", "Inception Score exp(E KL(p(y\\|x) ‖ p(y))) on the extractor's logits, mean over `is_splits` splits (Salimans et al. 2016)"),
     MetricKey("is_std", None, "standard deviation of IS over the splits")],
    needs={"logits"},
)  # fmt: skip
def inception(inp: EvalInputs) -> dict[str, float]:
    value, std = inception_score(torch.from_numpy(inp.fake["logits"]), splits=inp.cfg.is_splits)
    return {"is": value, "is_std": std}


@register_metric(
    "prdc",
    [MetricKey("precision", "higher", "share of samples inside the real k-NN manifold, k = `prdc_k` (Kynkäänniemi et al. 2019)"),
     MetricKey("recall", "higher", "share of real points inside the samples' k-NN manifold, samples subsampled to M = N (`prdc_repeats` draws averaged)"),
     MetricKey("density", "higher", "mean count of real k-NN balls holding a sample, / k (Naeem et al. 2020)"),
     MetricKey("coverage", "higher", "share of real points whose k-NN ball holds a sample, at M = N (Naeem et al. 2020)")],
    per_epoch=True,
)  # fmt: skip
def prdc(inp: EvalInputs) -> dict[str, float]:
    pts = points(inp) if inp.cache.get("use_geometry", True) else None
    if pts is not None:
        return pts.means()
    r, f, cfg = inp.real["features"], inp.fake["features"], inp.cfg
    if _fused(inp):
        return dict(_fused_prdc_kid(inp)[0])
    if len(f) <= len(r):
        return dict(prdc_from_features(r, f, k=cfg.prdc_k))
    rng = np.random.default_rng(inp.seed)
    runs = [prdc_from_features(r, f[np.sort(rng.choice(len(f), len(r), replace=False))], k=cfg.prdc_k) for _ in range(cfg.prdc_repeats)]
    return {key: float(np.mean([run[key] for run in runs])) for key in runs[0]}


@register_metric(
    "intervals",
    [MetricKey(f"{m}_ci_{side}", None, INTERVAL_DOC, column=False) for m in WITH_INTERVALS for side in ("low", "high")],
)  # fmt: skip
def intervals(inp: EvalInputs) -> dict[str, float]:
    cfg = inp.cfg
    if cfg.bootstrap == 0:
        raise Undefined("evaluate.bootstrap is 0")
    geom = geometry(inp)
    if geom is None:
        n = max(len(inp.real["features"]), len(inp.fake["features"]))
        raise Undefined(f"{n} points exceed evaluate.geometry_max_points={cfg.geometry_max_points}: intervals need the cached Gram matrices")
    spec = BootstrapSpec(cfg.bootstrap, cfg.ci_level, inp.seed)
    estimates = {**fid(inp), **kid(inp), **(inception(inp) if "logits" in inp.fake else {}), **prdc(inp)}
    estimates = {m: estimates[m] for m in WITH_INTERVALS if m in estimates}
    draws = resampled_values(geom, inp.fake.get("logits"), spec, points(inp), cfg.is_splits, tuple(estimates))
    found = intervals_from(draws, estimates, cfg.ci_level)
    out: dict = {f"{m}_ci_{side}": lo_hi[i] for m, lo_hi in found.items() for i, side in enumerate(("low", "high"))}
    out["arrays"] = {f"{m}_resamples": v for m, v in draws.items()}  # for paired comparisons in the report
    return out
