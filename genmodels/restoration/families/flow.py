"""Flow: posterior mean by self-normalised importance sampling with the flow's own draws (:mod:`..importance`).

One method for every flow configuration: with the quantized front end (``front_max_levels``)
a gradient search is a poor fit, its autoregressive categorical model having log-probabilities
piecewise constant in the input (zero gradient in data space) and a sequential inverse at
every step. Exact draws of the discrete model are cheap in bulk, so the posterior mean is
estimated from ``importance_samples`` of them, shared by every image (and by every task,
through ``shared``; approximate; consistent in the number of draws, degenerate when the
observation is very informative, e.g. large observed regions).
"""

from __future__ import annotations

import torch

from genmodels.restoration.base import Restoration, Undefined, register_restorer
from genmodels.restoration.importance import importance_posterior


@register_restorer("flow")
def restore_flow(model, obs, config, generator: torch.Generator, shared: dict | None = None) -> Restoration:  # noqa: ANN001
    if model.info.levels is None:
        raise Undefined("flow restoration by importance sampling needs image data on discrete levels")
    key = ("flow-draws", config.importance_samples)
    draws = (shared or {}).get(key)
    if draws is None:  # drawn once per model when the caller shares them across tasks
        draws = torch.cat([model.sample(min(2048, config.importance_samples - s), generator) for s in range(0, config.importance_samples, 2048)]).cpu()
        if shared is not None:
            shared[key] = draws
    mean, completions, ess = importance_posterior(draws, obs, config.exact_sigma, int(model.info.levels), config.completions, generator)
    method = f"importance sampling with {len(draws)} flow draws (median effective sample size {float(ess.median()):.1f})"
    return Restoration(mean, completions, False, method)
