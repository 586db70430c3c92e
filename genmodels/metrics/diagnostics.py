"""Diagnostics the seed calls out: mode collapse and anomaly detection.

- ``modes_covered`` / ``high_quality_fraction`` (toy mixtures; Srivastava et al. 2017,
  VEEGAN): a sample is high quality when it lies within 3 std of some mode; a mode is
  covered when it receives at least ``min_share`` of the high-quality samples its mixture
  weight predicts.
- ``class_coverage`` (labelled images): the share of classes whose predicted frequency
  among the samples is at least ``min_share`` times their frequency among real data.
- ``anomaly_auroc``: AUROC of an anomaly score separating in-distribution (negatives)
  from out-of-distribution inputs (positives), by the Mann-Whitney U statistic.
"""

from __future__ import annotations

import numpy as np


def mode_coverage(samples: np.ndarray, means: np.ndarray, std: float, weights: np.ndarray | None = None, min_share: float = 0.2) -> tuple[int, float]:
    """Return ``(modes_covered, high_quality_fraction)`` for 2-D samples and mixture means."""
    samples, means = np.asarray(samples, np.float64), np.asarray(means, np.float64)
    k = len(means)
    w = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, np.float64) / np.sum(weights)
    d = np.linalg.norm(samples[:, None, :] - means[None, :, :], axis=-1)
    nearest = d.argmin(1)
    good = d[np.arange(len(samples)), nearest] <= 3.0 * std
    counts = np.bincount(nearest[good], minlength=k)
    covered = int(np.sum(counts >= min_share * w * len(samples)))
    return covered, float(good.mean()) if len(samples) else 0.0


def class_coverage(fake_logits: np.ndarray, real_labels: np.ndarray, num_classes: int, min_share: float = 0.5) -> float:
    """Share of classes predicted for the samples at >= ``min_share`` of their real frequency."""
    fake = np.bincount(np.asarray(fake_logits).argmax(1), minlength=num_classes) / max(len(fake_logits), 1)
    real = np.bincount(np.asarray(real_labels), minlength=num_classes) / max(len(real_labels), 1)
    present = real > 0
    return float(np.mean(fake[present] >= min_share * real[present]))


def average_ranks(a: np.ndarray) -> np.ndarray:
    """1-based ranks of ``a`` with ties given their mean rank (scipy's ``rankdata`` default)."""
    _, inverse, counts = np.unique(a, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return (ends - (counts - 1) / 2.0)[inverse.reshape(-1)]


def auroc(scores_in: np.ndarray, scores_out: np.ndarray) -> float:
    """P(score_out > score_in) + 0.5 P(tie): area under the ROC curve, out = positive."""
    s_in, s_out = np.asarray(scores_in, np.float64), np.asarray(scores_out, np.float64)
    if len(s_in) == 0 or len(s_out) == 0:
        raise ValueError("auroc needs at least one score in each set")
    ranks = average_ranks(np.concatenate([s_in, s_out]))
    u = ranks[len(s_in) :].sum() - len(s_out) * (len(s_out) + 1) / 2
    return float(u / (len(s_in) * len(s_out)))
