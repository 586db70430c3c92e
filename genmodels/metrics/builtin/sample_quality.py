"""Sample-quality metrics on extractor features: FID, KID, Inception Score, PRDC.

KID's subset kernel sums ride on the distance blocks PRDC forms anyway when the subsets
cover the samples (same values as the stand-alone KID, tested), so the two share one pass.
"""

from __future__ import annotations

import torch

from genmodels.metrics.fid import fid_from_features
from genmodels.metrics.inception_score import inception_score
from genmodels.metrics.kid import SubsetKernelSums, kid_from_features
from genmodels.metrics.prdc import prdc_from_features
from genmodels.metrics.registry import EvalInputs, MetricKey, register_metric


@register_metric("fid", [MetricKey("fid", "lower", "Fréchet distance of Gaussians fitted to the real and sample features, float64 covariances (Heusel et al. 2017)")], per_epoch=True)
def fid(inp: EvalInputs) -> dict[str, float]:
    return {"fid": fid_from_features(inp.real["features"], inp.fake["features"])}


def _fused(inp: EvalInputs) -> bool:
    r, f, cfg = inp.real["features"], inp.fake["features"], inp.cfg
    size = min(cfg.kid_subset_size, len(r), len(f))
    return inp.cache.get("fuse_kid_prdc", True) and max(len(r), len(f)) <= cfg.kid_subsets * size


def _prdc_with_kid(inp: EvalInputs) -> tuple[dict[str, float], tuple[float, float]]:
    """PRDC and KID from one pass over the distance blocks (computed once per inputs)."""
    if "prdc+kid" not in inp.cache:
        r, f, cfg = inp.real["features"], inp.fake["features"], inp.cfg
        size = min(cfg.kid_subset_size, len(r), len(f))
        sums = SubsetKernelSums(len(r), len(f), r.shape[1], subsets=cfg.kid_subsets, subset_size=size, seed=inp.seed)
        prdc = prdc_from_features(r, f, k=cfg.prdc_k, kid=sums)
        inp.cache["prdc+kid"] = (prdc, sums.result())
    return inp.cache["prdc+kid"]


@register_metric(
    "kid",
    [MetricKey("kid", "lower", "unbiased MMD² with kernel (x·y/d + 1)³, mean over `kid_subsets` seeded subsets of min(`kid_subset_size`, n) samples (Bińkowski et al. 2018)"),
     MetricKey("kid_std", None, "standard deviation of KID over the subsets")],
    per_epoch=True,
)  # fmt: skip
def kid(inp: EvalInputs) -> dict[str, float]:
    if _fused(inp):
        value, std = _prdc_with_kid(inp)[1]
    else:
        r, f, cfg = inp.real["features"], inp.fake["features"], inp.cfg
        size = min(cfg.kid_subset_size, len(r), len(f))
        value, std = kid_from_features(r, f, subsets=cfg.kid_subsets, subset_size=size, seed=inp.seed)
    return {"kid": value, "kid_std": std}


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
     MetricKey("recall", "higher", "share of real points inside the samples' k-NN manifold"),
     MetricKey("density", "higher", "mean count of real k-NN balls holding a sample, / k (Naeem et al. 2020)"),
     MetricKey("coverage", "higher", "share of real points whose k-NN ball holds a sample (Naeem et al. 2020)")],
    per_epoch=True,
)  # fmt: skip
def prdc(inp: EvalInputs) -> dict[str, float]:
    if _fused(inp):
        return dict(_prdc_with_kid(inp)[0])
    return dict(prdc_from_features(inp.real["features"], inp.fake["features"], k=inp.cfg.prdc_k))


__all__ = ["fid", "inception", "kid", "prdc"]
