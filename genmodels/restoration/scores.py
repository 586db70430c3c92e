"""Scores of restored images against the clean ones, each a mean over images with a 95 % bootstrap interval.

PSNR and SSIM are scikit-image's (``data_range = 1``); accuracy is the share of restored images
that a classifier (the evaluator, passed in as ``images -> labels``) labels correctly; for
inpainting, the FID between features of the clean test images and of the completions
(:func:`genmodels.metrics.fid.fid_from_features`, features from a callable). Intervals
resample images with replacement (seeded) and use the project's re-centred percentile
interval (:func:`genmodels.metrics.resampling.percentile_interval`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from genmodels.metrics import defaults
from genmodels.metrics.fid import fid_from_features
from genmodels.metrics.resampling import percentile_interval

#: A PSNR is capped here (an exact restoration has infinite PSNR; 100 dB is an MSE of 1e-10).
PSNR_CAP = 100.0

Classifier = Callable[[Tensor], Tensor]
Features = Callable[[Tensor], Tensor]


def _arrays(clean: Tensor, restored: Tensor) -> tuple[np.ndarray, np.ndarray]:
    if clean.shape != restored.shape or clean.dim() != 4:
        raise ValueError(f"scores: clean {list(clean.shape)} and restored {list(restored.shape)} must be equal (n, C, H, W) batches")
    return clean.detach().cpu().double().numpy(), restored.detach().cpu().double().numpy()


def psnr_per_image(clean: Tensor, restored: Tensor) -> np.ndarray:
    """``10 log10(1 / MSE)`` per image (skimage, data_range 1), capped at :data:`PSNR_CAP`."""
    from skimage.metrics import peak_signal_noise_ratio, mean_squared_error

    a, b = _arrays(clean, restored)
    out = [PSNR_CAP if mean_squared_error(x, y) <= 10 ** (-PSNR_CAP / 10) else peak_signal_noise_ratio(x, y, data_range=1.0) for x, y in zip(a, b)]
    return np.minimum(np.asarray(out, dtype=np.float64), PSNR_CAP)


def ssim_per_image(clean: Tensor, restored: Tensor) -> np.ndarray:
    """Mean SSIM (Wang et al. 2004) per image: skimage's default 7x7 window (smaller for tiny images), data_range 1."""
    from skimage.metrics import structural_similarity

    a, b = _arrays(clean, restored)
    side = min(a.shape[2:])
    win = min(7, side if side % 2 else side - 1)
    if win < 3:
        raise ValueError(f"scores: SSIM needs images of at least 3x3 pixels, got {list(a.shape[2:])}")
    return np.array([structural_similarity(x, y, data_range=1.0, channel_axis=0, win_size=win) for x, y in zip(a, b)])


def accuracy_per_image(classify: Classifier, restored: Tensor, labels: Tensor) -> np.ndarray:
    """1.0 where ``classify(restored)`` equals the true label, else 0.0."""
    predicted = torch.as_tensor(classify(restored)).cpu().long().reshape(-1)
    truth = torch.as_tensor(labels).cpu().long().reshape(-1)
    if len(predicted) != len(truth):
        raise ValueError(f"scores: {len(predicted)} predictions for {len(truth)} labels")
    return (predicted == truth).double().numpy()


def mean_interval(values: np.ndarray, seed: int, resamples: int = defaults.BOOTSTRAP_RESAMPLES, level: float = defaults.CI_LEVEL) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean over images and its bootstrap interval (images resampled, seeded)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError("scores: need a non-empty 1-D array of per-image values")
    rng = np.random.default_rng(seed)
    draws = values[rng.integers(0, len(values), (resamples, len(values)))].mean(1)
    estimate = float(values.mean())
    low, high = percentile_interval(draws, level, estimate)
    return estimate, low, high


def completion_fid(features: Features, clean: Tensor, completions: Tensor) -> float:
    """FID between the features of the clean images and of every completion ``(n, m, C, H, W)``."""
    flat = completions.reshape(-1, *completions.shape[2:])
    real = torch.as_tensor(features(clean)).detach().cpu().double().numpy()
    fake = torch.as_tensor(features(flat)).detach().cpu().double().numpy()
    return fid_from_features(real, fake)


def task_scores(
    key: str, clean: Tensor, restored: Tensor, seed: int, labels: Tensor | None = None, classify: Classifier | None = None,
    completions: Tensor | None = None, features: Features | None = None,
) -> dict[str, float]:
    """Metric entries ``<key>_<score>`` (+ ``_ci_low`` / ``_ci_high``) for one task's restoration:
    psnr, ssim, accuracy (with ``classify`` and ``labels``) and fid (with ``features`` and ``completions``)."""
    per_image = {"psnr": psnr_per_image(clean, restored), "ssim": ssim_per_image(clean, restored)}
    if classify is not None and labels is not None:
        per_image["accuracy"] = accuracy_per_image(classify, restored, labels)
    out: dict[str, float] = {}
    for name, values in per_image.items():
        out[f"{key}_{name}"], out[f"{key}_{name}_ci_low"], out[f"{key}_{name}_ci_high"] = mean_interval(values, seed)
    if features is not None and completions is not None:
        out[f"{key}_fid"] = completion_fid(features, clean, completions)
    return out
