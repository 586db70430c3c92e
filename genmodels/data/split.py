"""Seeded train/test splitting shared by loaders whose source has no fixed split."""

from __future__ import annotations

import numpy as np

from genmodels.data.samples import Samples


def stratified_split(
    x: np.ndarray, y: np.ndarray | None, test_fraction: float, seed: int, limit: int | None = None
) -> tuple[Samples, Samples]:
    """Split keeping class proportions (when labels exist and every class is large enough to
    contribute to the held-out share); ``limit`` caps the train split."""
    rng = np.random.default_rng(seed)
    n = len(x)
    if y is not None and np.unique(y, return_counts=True)[1].min() * test_fraction < 1:
        y_strata = None  # some class is too small to give the held-out split a share: split at random
    else:
        y_strata = y
    if y_strata is None:
        order = rng.permutation(n)
        n_test = max(1, int(round(n * test_fraction)))
        test_idx, train_idx = order[:n_test], order[n_test:]
    else:
        test_parts, train_parts = [], []
        for c in np.unique(y):
            idx = rng.permutation(np.flatnonzero(y == c))
            k = max(1, int(round(len(idx) * test_fraction)))
            test_parts.append(idx[:k])
            train_parts.append(idx[k:])
        test_idx = np.sort(np.concatenate(test_parts))
        train_idx = rng.permutation(np.concatenate(train_parts))
    if limit is not None:
        train_idx = train_idx[:limit]
    take = lambda idx: Samples(x=x[idx], y=None if y is None else y[idx])  # noqa: E731
    return take(train_idx), take(test_idx)
