"""Mixing of a Markov-chain sampler: how long its chains ran before the samples, and whether they mixed.

Defined for families whose ``sample`` runs Markov chains and that report how those chains
ended through ``sampler_mixing(n, generator) -> (values, notes)`` (the RBM: a burn-in chosen
by rank-normalised split R-hat, Vehtari et al. 2021). The diagnostic reruns the sampler on
one batch of the evaluation's size, the chain count of one batch of the ``sample`` stage.
"""

from __future__ import annotations

import torch

from genmodels.metrics.builtin.model_based import generator
from genmodels.metrics.registry import EvalInputs, MetricKey, Undefined, register_metric

ORDER = 45  # after the diagnostics, before the costs (see genmodels.metrics.builtin)

KEYS = ("burn_in_sweeps", "rhat_energy", "rhat_max", "mixing_capped")


@register_metric(
    "mixing",
    [MetricKey("burn_in_sweeps", None, "Markov-chain samplers (RBM): Gibbs sweeps from the chain starts to the samples, chosen by the convergence diagnostic", column=False),
     MetricKey("rhat_energy", "lower", "rank-normalised split R-hat (Vehtari et al. 2021) of the chains' energy over the last half of the burn-in; < 1.01: mixed", column=False),
     MetricKey("rhat_max", "lower", "the largest split R-hat of every traced chain statistic (energy and projections)", column=False),
     MetricKey("mixing_capped", None, "1: the burn-in reached its cap before the chains mixed (the samples are not from the model's equilibrium); 0: it did not", column=False)],
    needs={"model"},
)  # fmt: skip
@torch.no_grad()
def mixing(inp: EvalInputs) -> dict:
    model = inp.model
    report = getattr(model, "sampler_mixing", None)
    if report is None:
        raise Undefined(f"{type(model).__name__} draws independent samples: no Markov chain to mix")
    values, notes = report(inp.cfg.batch_size, generator(inp, 7))
    return {**values, "notes": notes}
