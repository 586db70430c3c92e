"""Inception Score (IS).

Salimans et al. 2016, "Improved Techniques for Training GANs":

    IS = exp( E_x KL( p(y|x) || p(y) ) ),   p(y) = E_x p(y|x),

with p(y|x) = softmax(logits). As in torch-fidelity, the samples are (optionally)
shuffled with ``np.random.RandomState(seed).permutation``, cut into ``splits`` chunks
[i N // splits, (i+1) N // splits), the score is computed per chunk with that chunk's
marginal, and the mean and std (ddof = 0) over chunks are returned. torch-fidelity
shuffles with seed 2020 (pass ``seed=2020`` to reproduce its numbers exactly).

Numerics: float64 log-softmax; log p(y) = logsumexp_x log p(y|x) - log N_chunk, so no
log of an underflowed zero ever appears.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from genmodels.metrics import defaults

__all__ = ["inception_score"]


def _logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    """log sum exp along ``axis`` (kept as size 1), shifted by the max; x is finite."""
    peak = x.max(axis=axis, keepdims=True)
    return peak + np.log(np.exp(x - peak).sum(axis=axis, keepdims=True))


def inception_score(
    logits: Any, splits: int = defaults.IS_SPLITS, shuffle: bool = True, seed: int = 0
) -> tuple[float, float]:
    """IS (Salimans et al. 2016) of class logits (N, C): mean and std over ``splits``.

    Per split: exp(mean_x sum_y p(y|x) [log p(y|x) - log p(y)]). Raises ValueError if
    ``logits`` is not a finite 2-D array with at least ``splits`` rows.
    """
    if not isinstance(splits, int) or splits < 1:
        raise ValueError(f"splits must be a positive int, got {splits!r}")
    from genmodels.metrics.fid import as_feature_matrix  # here: importing this module loads no torch (see the package)

    logits_arr = as_feature_matrix(logits, "logits", min_rows=splits)
    n = logits_arr.shape[0]
    if shuffle:
        logits_arr = logits_arr[np.random.RandomState(seed).permutation(n)]
    log_p = logits_arr.astype(np.float64)  # a copy: modified in place below
    log_p -= _logsumexp(log_p, axis=1)
    p = np.exp(log_p)

    split_scores = np.empty(splits, dtype=np.float64)
    for i in range(splits):
        lo, hi = i * n // splits, (i + 1) * n // splits
        log_marginal = _logsumexp(log_p[lo:hi], axis=0) - np.log(hi - lo)
        kl = (p[lo:hi] * (log_p[lo:hi] - log_marginal)).sum(axis=1)
        split_scores[i] = np.exp(kl.mean())
    return float(split_scores.mean()), float(split_scores.std())
