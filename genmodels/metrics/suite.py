"""The metric suite: every key of ``metrics/<model>.json`` from samples and (optionally) a model.

Sample metrics need only two sample sets and a feature extractor (``genmodels metrics``);
model metrics (PPL, likelihood, anomaly AUROC, throughput) also need the trained model.
Every key is always present; an undefined one is ``None`` with the reason in ``notes``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from genmodels.data.base import DatasetInfo
from genmodels.metrics.diagnostics import auroc, class_coverage, mode_coverage
from genmodels.metrics.features import FeatureExtractor, extract
from genmodels.metrics.fid import fid_from_features
from genmodels.metrics.inception_score import inception_score
from genmodels.metrics.kid import SubsetKernelSums, kid_from_features
from genmodels.metrics.ppl import normalized_activation_distance, perceptual_path_length, squared_euclidean_distance
from genmodels.metrics.prdc import prdc_from_features
from genmodels.models.core.base import GenerativeModel
from genmodels.models.core.dequantize import bits_per_dim, dequantize

METRIC_KEYS = (
    "is", "is_std", "fid", "kid", "kid_std", "ppl", "precision", "recall", "density", "coverage",
    "nll_bits_per_dim", "train_seconds", "samples_per_second",
    "modes_covered", "high_quality_fraction", "class_coverage", "anomaly_auroc",
)  # fmt: skip


@dataclass
class MetricReport:
    metrics: dict[str, float | None] = field(default_factory=lambda: {k: None for k in METRIC_KEYS})
    notes: dict[str, str] = field(default_factory=dict)
    extra: dict[str, float] = field(default_factory=dict)  # supporting numbers (e.g. nll std error)

    def null(self, keys: tuple[str, ...] | str, reason: str) -> None:
        for k in (keys,) if isinstance(keys, str) else keys:
            self.metrics[k] = None
            self.notes[k] = reason

    def as_json(self) -> dict[str, Any]:
        missing = {k: "not computed" for k, v in self.metrics.items() if v is None and k not in self.notes}
        return {**self.metrics, **self.extra, "notes": {**missing, **self.notes}}


def real_layers(extractor: FeatureExtractor) -> tuple[str, ...]:
    return ("features", "logits") if extractor.has_logits else ("features",)


def sample_metrics(
    report: MetricReport,
    real: dict[str, np.ndarray],
    fake_x: np.ndarray,
    extractor: FeatureExtractor,
    info: DatasetInfo,
    real_labels: np.ndarray | None,
    cfg: Any,
    seed: int,
) -> dict[str, np.ndarray]:
    """Fill IS, FID, KID, PRDC and the mode/class diagnostics; returns the fake features."""
    fake = extract(extractor, fake_x, real_layers(extractor))
    if "logits" in fake:
        report.metrics["is"], report.metrics["is_std"] = inception_score(torch.from_numpy(fake["logits"]), splits=cfg.is_splits)
    else:
        report.null(("is", "is_std"), f"extractor {extractor.name!r} has no class logits")
    report.metrics["fid"] = fid_from_features(real["features"], fake["features"])
    r, f = real["features"], fake["features"]
    size = min(cfg.kid_subset_size, len(r), len(f))
    if max(len(r), len(f)) <= cfg.kid_subsets * size:
        # KID's subset kernel sums ride on the distance blocks PRDC forms anyway (same values, one pass)
        sums = SubsetKernelSums(len(r), len(f), r.shape[1], subsets=cfg.kid_subsets, subset_size=size, seed=seed)
        report.metrics.update(prdc_from_features(r, f, k=cfg.prdc_k, kid=sums))
        report.metrics["kid"], report.metrics["kid_std"] = sums.result()
    else:
        report.metrics["kid"], report.metrics["kid_std"] = kid_from_features(r, f, subsets=cfg.kid_subsets, subset_size=size, seed=seed)
        report.metrics.update(prdc_from_features(r, f, k=cfg.prdc_k))
    mixture = info.extra.get("means") if info.kind == "points" else None
    if mixture is not None:
        covered, hq = mode_coverage(fake_x.reshape(len(fake_x), -1), np.asarray(mixture), info.extra["std"], info.extra.get("weights"))
        report.metrics["modes_covered"], report.metrics["high_quality_fraction"] = float(covered), hq
    else:
        report.null(("modes_covered", "high_quality_fraction"), "defined for toy2d Gaussian mixtures only")
    if "logits" in fake and real_labels is not None and info.num_classes:
        report.metrics["class_coverage"] = class_coverage(fake["logits"], real_labels, info.num_classes)
    else:
        report.null("class_coverage", "needs labelled real data and a classifier extractor")
    return fake


def _batched(fn, x: torch.Tensor, batch_size: int) -> torch.Tensor:  # noqa: ANN001
    return torch.cat([fn(x[s : s + batch_size]) for s in range(0, len(x), batch_size)])


def model_metrics(
    report: MetricReport,
    model: GenerativeModel,
    extractor: FeatureExtractor,
    test_x: np.ndarray,
    cfg: Any,
    seed: int,
    batch_size: int = 500,
) -> None:
    """Fill PPL, likelihood (bits/dim), anomaly AUROC and sampling throughput."""
    device = model.device
    info = model.info
    gen = lambda s: torch.Generator(device=device).manual_seed(seed + s)  # noqa: E731
    with torch.no_grad():
        # PPL
        if model.latent_dim is not None:
            if info.kind == "image":
                distance = normalized_activation_distance(extractor.perceptual_activations)
            else:
                distance = squared_euclidean_distance
            ppl, ppl_std = perceptual_path_length(
                model.decode, distance, n=cfg.ppl_samples, latent_dim=model.latent_dim,
                epsilon=cfg.ppl_epsilon, sampling=cfg.ppl_sampling, batch_size=batch_size, seed=seed,
                draw=None if model.gaussian_latent else model.sample_latent, device=device,
            )  # fmt: skip
            report.metrics["ppl"] = float(ppl)
            report.extra["ppl_std"] = float(ppl_std)
        else:
            report.null("ppl", f"{type(model).__name__} has no latent decoder")
        # likelihood and anomaly score
        x = torch.tensor(test_x[: cfg.nll_max_samples] if cfg.nll_max_samples else test_x, device=device)
        if model.likelihood_kind is not None:
            v = dequantize(x, info.levels, gen(1))
            ll = _batched(lambda b: model.log_likelihood(b, gen(2)), v, batch_size).double()
            bpd = bits_per_dim(ll, math.prod(info.shape), info.levels)
            report.metrics["nll_bits_per_dim"] = float(bpd.mean())
            report.extra["nll_bits_per_dim_stderr"] = float(bpd.std() / math.sqrt(len(bpd)))
            report.notes["nll_bits_per_dim"] = f"{model.likelihood_kind} ({'upper bound' if model.likelihood_kind == 'bound' else model.likelihood_kind} on NLL)"
        else:
            report.null("nll_bits_per_dim", f"{type(model).__name__} has no tractable likelihood")
        try:
            ood = make_ood(test_x, info, cfg, seed)
            if ood is None:
                raise NotImplementedError("no out-of-distribution set for this dataset")
            score = lambda a: _batched(lambda b: model.anomaly_score(b, gen(3)), dequantize(torch.tensor(a, device=device), info.levels, gen(4)), batch_size)  # noqa: E731
            report.metrics["anomaly_auroc"] = auroc(score(test_x).cpu().numpy(), score(ood).cpu().numpy())
        except NotImplementedError as exc:
            report.null("anomaly_auroc", str(exc) or f"{type(model).__name__} has no anomaly score")
        report.extra.update(model.evaluation_extras())
        # throughput
        n = cfg.throughput_samples
        model.sample(min(n, 16), gen(5))  # warm-up
        t0 = time.perf_counter()
        for s in range(0, n, batch_size):
            model.sample(min(batch_size, n - s), gen(6))
        if device.type == "cuda":
            torch.cuda.synchronize()
        report.metrics["samples_per_second"] = n / (time.perf_counter() - t0)


def make_ood(test_x: np.ndarray, info: DatasetInfo, cfg: Any, seed: int) -> np.ndarray | None:
    """Out-of-distribution inputs: test images with one fixed pixel permutation (default)."""
    if info.kind != "image":
        rng = np.random.default_rng(seed)
        lo, hi = info.value_range
        return rng.uniform(lo, hi, size=test_x.shape).astype(np.float32)
    if cfg.ood == "holdout-class":
        raise NotImplementedError("ood=holdout-class needs a model trained without that class (not yet supported)")
    flat = test_x.reshape(len(test_x), -1)
    perm = np.random.default_rng(seed).permutation(flat.shape[1])
    return flat[:, perm].reshape(test_x.shape)
