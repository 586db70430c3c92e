"""Across training seeds: the mean and standard deviation of each headline metric.

A model trained under several seeds (``seeds:`` in params.yaml) is evaluated once per seed
on the same test set, reference features and evaluation seed, so the spread measures what
the training randomness alone (initial weights, batch order, the samples drawn) moves a
figure by — beside the bootstrap interval, which measures the finite test set for one model.
The headline metrics are the leaderboard's ranked columns (registered keys with a better
direction and a column). The sd is the sample standard deviation (n − 1 in the denominator).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping

from genmodels.metrics.registry import key_specs

MEAN_SUFFIX, SD_SUFFIX = "_seed_mean", "_seed_sd"
PER_SEED = "seeds"  # key of the per-seed values in metrics/<model>.json


def headline_keys() -> list[str]:
    """The leaderboard's ranked columns, in the metrics' order (:func:`genmodels.metrics.registry.key_specs`)."""
    return [k for k, spec in key_specs().items() if spec.column and spec.better is not None]


def across_seeds(per_seed: Mapping[int, Mapping[str, float | None]], keys: Iterable[str]) -> dict:
    """``<k>_seed_mean`` and ``<k>_seed_sd`` for every key defined under every seed.

    ``per_seed`` maps each seed to its metrics (the first seed's first). Returns those keys,
    the per-seed values under ``"seeds"`` (``{"<seed>": {key: value}}``) and ``"notes"``:
    a key defined under some seeds only gets null statistics and says under which it is not;
    a key undefined under every seed is left out.
    """
    if len(per_seed) < 2:
        raise ValueError(f"statistics across seeds need at least two seeds, got {len(per_seed)}")
    stats: dict = {}
    notes: dict[str, str] = {}
    shown = []
    for key in keys:
        values = {seed: metrics.get(key) for seed, metrics in per_seed.items()}
        missing = [seed for seed, v in values.items() if v is None]
        if len(missing) == len(values):
            continue
        shown.append(key)
        if missing:
            stats[key + MEAN_SUFFIX] = stats[key + SD_SUFFIX] = None
            notes[key + MEAN_SUFFIX] = f"undefined under seed(s) {', '.join(map(str, missing))}"
            continue
        defined = [float(v) for v in values.values()]  # exact arithmetic: equal values give sd 0, their mean the value
        stats[key + MEAN_SUFFIX] = statistics.mean(defined)
        stats[key + SD_SUFFIX] = statistics.stdev(defined)
    stats[PER_SEED] = {str(seed): {k: metrics.get(k) for k in shown} for seed, metrics in per_seed.items()}
    stats["notes"] = notes
    return stats


def per_seed_values(metrics: Mapping, key: str) -> list[float] | None:
    """``key``'s value under every seed of a metrics file, the first seed's first (what the
    report's comparisons across seeds read); None for a one-seed file or when ``key`` is
    undefined under some seed."""
    per_seed = metrics.get(PER_SEED)
    if not per_seed:
        return None
    values = [seed_metrics.get(key) for seed_metrics in per_seed.values()]
    return None if any(v is None for v in values) else [float(v) for v in values]
