"""Diagnostics: mode coverage (toy mixtures), class coverage (labelled images), anomaly AUROC."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from genmodels.metrics.builtin.model_based import batched, generator
from genmodels.metrics.diagnostics import auroc, class_coverage, mode_coverage
from genmodels.metrics.ood import HARD, HOLDOUT, holdout_class_split, ood_sets
from genmodels.metrics.registry import EvalInputs, MetricKey, Undefined, register_metric
from genmodels.models.core.dequantize import dequantize

ORDER = 40  # where these keys stand among the built-ins' (see genmodels.metrics.builtin)


@register_metric(
    "modes",
    [MetricKey("modes_covered", "higher", "mixture modes that receive their share of high-quality samples (toy2d; Srivastava et al. 2017)"),
     MetricKey("high_quality_fraction", "higher", "share of samples within 3 std of a mode (toy2d)")],
    needs={"samples"},
)  # fmt: skip
def modes(inp: EvalInputs) -> dict[str, float]:
    mixture = inp.info.extra.get("means") if inp.info.kind == "points" else None
    if mixture is None:
        raise Undefined("defined for toy2d Gaussian mixtures only")
    x = inp.fake_x.reshape(len(inp.fake_x), -1)
    covered, hq = mode_coverage(x, np.asarray(mixture), inp.info.extra["std"], inp.info.extra.get("weights"))
    return {"modes_covered": float(covered), "high_quality_fraction": hq}


@register_metric(
    "class_coverage",
    [MetricKey("class_coverage", "higher", "labelled images: share of classes whose predicted frequency among the samples is >= half their real frequency")],
    needs={"logits", "labels"},
)  # fmt: skip
def class_coverage_metric(inp: EvalInputs) -> dict[str, float]:
    if not inp.info.num_classes:
        raise Undefined("needs labelled real data and a classifier extractor")
    return {"class_coverage": class_coverage(inp.fake["logits"], inp.real_labels, inp.info.num_classes)}


OOD_SETS = ("permuted", "hflip", "vflip", "shapes")
HOLDOUT_KEY = f"anomaly_auroc_{HOLDOUT}"


@register_metric(
    "anomaly_auroc",
    [MetricKey("anomaly_auroc", "higher", "AUROC of the model's anomaly score (−log-likelihood or bound; −D(x) for the GAN), test split vs the hard out-of-distribution sets, mean over hflip, vflip and shapes (uniform noise for points)"),
     *(MetricKey(f"anomaly_auroc_{name}", "higher", "AUROC per out-of-distribution set: pixel-permuted test images (easy), horizontal and vertical mirror images, procedural shapes at the same size and levels", column=False)
       for name in OOD_SETS),
     MetricKey(HOLDOUT_KEY, "higher", "AUROC of a copy of the model trained without class `holdout_class`: that class's test images against the other classes', scored by the copy; run only when `holdout_class` is set (a retrain), not part of anomaly_auroc's mean", column=False)],
    needs={"model"},
)  # fmt: skip
@torch.no_grad()
def anomaly_auroc(inp: EvalInputs) -> dict[str, float | None]:
    model, info, bs = inp.model, inp.info, inp.cfg.batch_size

    def score(a: np.ndarray, by: torch.nn.Module = model) -> np.ndarray:
        v = dequantize(torch.tensor(a, device=by.device), info.levels, generator(inp, 4))
        return batched(lambda b: by.anomaly_score(b, generator(inp, 3)), v, bs).cpu().numpy()

    try:
        inside = score(inp.test_x)
        per_set = {name: auroc(inside, score(x)) for name, x in ood_sets(inp.test_x, info, inp.seed).items()}
    except NotImplementedError as exc:
        raise Undefined(str(exc) or f"{type(model).__name__} has no anomaly score") from None
    hard = [per_set[n] for n in HARD if n in per_set] or list(per_set.values())
    out: dict = {f"anomaly_auroc_{name}": per_set.get(name) for name in OOD_SETS}
    out["anomaly_auroc"] = float(np.mean(hard))
    notes = {}
    if info.kind != "image":
        notes = {f"anomaly_auroc_{name}": "image out-of-distribution set; points use uniform noise (anomaly_auroc)" for name in OOD_SETS}
    out[HOLDOUT_KEY], why = holdout_auroc(inp, score)
    out["notes"] = {**notes, **({HOLDOUT_KEY: why} if why else {})}
    return out


def holdout_auroc(inp: EvalInputs, score: Callable[[np.ndarray, torch.nn.Module], np.ndarray]) -> tuple[float | None, str]:
    """The held-out-class AUROC scored by ``inp.holdout_model``, or None and the reason."""
    cls = getattr(inp.cfg, "holdout_class", None)
    if cls is None:
        return None, "off: set evaluate.holdout_class to score one class with a copy of the model trained without it"
    if inp.holdout_model is None:
        return None, f"no copy of the model trained without class {cls} (train@<model> writes models/<model>/holdout/)"
    try:
        inliers, outliers = holdout_class_split(inp.test_x, inp.test_y, cls)
    except ValueError as exc:
        return None, str(exc)
    return auroc(score(inliers, inp.holdout_model), score(outliers, inp.holdout_model)), ""
