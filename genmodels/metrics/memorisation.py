"""Memorisation tests: does a generator copy its training data?

* :func:`ct_statistic` — Meehan, Chaudhuri & Dasgupta (2020), "A non-parametric test to
  detect data-copying in generative models". The training features are split into cells by
  k-means; in each cell the distances of the samples to their nearest training point are
  compared with those of held-out test points by a Mann-Whitney U test,
  ``Z = (U - mn/2) / sqrt(mn(m + n + 1)/12)`` with ``U = #{(i, j): d(sample_j) > d(test_i)}``;
  ``C_T`` is the mean of ``Z`` weighted by the cells' share of test points. Strongly negative:
  the samples sit closer to the training set than fresh data do (copying); near 0: no
  evidence; positive: the samples are farther (underfitting).
* :func:`nn_train_share` — the share of samples whose nearest neighbour among (a training
  subset the size of the test set) ∪ (the test set) is a training point: 0.5 when samples are
  as close to unseen data as to seen data, toward 1 when they copy. With a subset holding a
  share f of the training set, exact copies of uniformly chosen training images score
  f + (1 - f)/2 (a copy whose source is not in the subset is like fresh data).
* :func:`copy_share` — the share of samples identical to a training row at the dataset's levels.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


def nearest_distances(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Euclidean distance of each point to its nearest reference point."""
    return cKDTree(np.asarray(reference, np.float64)).query(np.asarray(points, np.float64), k=1)[0]


def ct_statistic(train: np.ndarray, test: np.ndarray, samples: np.ndarray, cells: int, seed: int, min_per_cell: int = 5) -> float:
    """Meehan et al.'s ``C_T`` over ``cells`` k-means cells of the training features."""
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=cells, n_init=3, random_state=seed).fit(np.asarray(train, np.float64))
    cell_test, cell_gen = km.predict(np.asarray(test, np.float64)), km.predict(np.asarray(samples, np.float64))
    d_test, d_gen = nearest_distances(test, train), nearest_distances(samples, train)
    zs, weights = [], []
    for c in range(cells):
        a, b = d_test[cell_test == c], d_gen[cell_gen == c]
        n, m = len(a), len(b)
        if n < min_per_cell or m < min_per_cell:
            continue
        u = np.sum(b[None, :] > a[:, None]) + 0.5 * np.sum(b[None, :] == a[:, None])
        zs.append((u - m * n / 2) / np.sqrt(m * n * (m + n + 1) / 12))
        weights.append(n)
    if not zs:
        raise ValueError(f"no k-means cell holds {min_per_cell} test points and {min_per_cell} samples")
    return float(np.average(zs, weights=weights))


def nn_train_share(train: np.ndarray, test: np.ndarray, samples: np.ndarray, seed: int, subsets: int = 10) -> float:
    """Share of samples nearer to a size-matched training subset than to the test set.

    Averaged over ``subsets`` seeded subsets (a copy counts as copying only when its source
    is in the subset, so one subset adds noise of its own); a tie counts half. Compute it in a
    space where training and test points are exchangeable (data space, not the features of
    a network trained on the training split), or fresh samples will not score 0.5.
    """
    flat = lambda a: np.asarray(a, np.float64).reshape(len(a), -1)  # noqa: E731
    train, test, samples = flat(train), flat(test), flat(samples)
    rng = np.random.default_rng(seed)
    d_test = nearest_distances(samples, test)
    shares = []
    for _ in range(subsets):
        d_train = nearest_distances(samples, train[rng.choice(len(train), min(len(test), len(train)), replace=False)])
        shares.append(np.mean(d_train < d_test) + 0.5 * np.mean(d_train == d_test))
    return float(np.mean(shares))


def copy_share(samples: np.ndarray, train: np.ndarray, levels: int | None) -> float:
    """Share of samples equal to some training row, compared at the dataset's ``levels``."""
    flat = lambda a: np.asarray(a).reshape(len(a), -1)  # noqa: E731
    if levels is None:
        s, t = flat(samples), flat(train)
    else:
        s, t = (np.rint(flat(a) * (levels - 1)).astype(np.int64) for a in (samples, train))
    seen = {row.tobytes() for row in np.ascontiguousarray(t)}
    return float(np.mean([row.tobytes() in seen for row in np.ascontiguousarray(s)]))
