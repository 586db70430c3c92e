"""Convergence diagnostics of the RBM's Gibbs chains: rank-normalised split R-hat.

Split R-hat (Gelman & Rubin 1992; Gelman et al., BDA3 sec. 11.4) with the rank
normalisation of Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021). A trace of ``T``
draws of a scalar from each of ``M`` chains is cut into ``2M`` half-chains of length
``n = T // 2``; with ``W`` the mean within-half-chain variance and ``B / n`` the variance of
the half-chain means,

    var+ = (n - 1) / n W + B / n,        R-hat = sqrt(var+ / W).

Chains that all sample the same distribution and have forgotten their starts give R-hat
near 1; chains stuck in different modes (a large ``B``) or still drifting (the two halves
of one chain differ) give more. The draws are first replaced by the normal scores of
their pooled ranks (``Phi^-1((r - 3/8) / (S + 1/4))``), so heavy tails cannot hide or fake
a difference; the *folded* version (ranks of ``|x - median|``) checks the spreads, and the
reported value is the larger of the two. Vehtari et al. use ``R-hat < 1.01`` as the
threshold for "mixed".

The statistics the RBM's sampler traces are its free energy ``F(v)`` and the projections
of ``v`` on the leading left singular vectors of ``W`` (the directions along which the
hidden layer tells the digits apart), so a chain that sits in one mode is noticed even
where the modes' energies agree. Nothing here uses anything but the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

#: Threshold below which the chains count as mixed (Vehtari et al. 2021).
RHAT_MIXED = 1.01


def _normal_scores(x: Tensor) -> Tensor:
    """``Phi^-1((rank - 3/8) / (S + 1/4))`` of every entry among all ``S`` entries (Blom 1958), ties averaged."""
    flat = x.reshape(-1).double()
    order = torch.argsort(flat, stable=True)
    ranks = torch.empty_like(flat)
    ranks[order] = torch.arange(1, len(flat) + 1, dtype=flat.dtype, device=flat.device)
    # average the ranks of tied values (discrete statistics tie often)
    uniq, inverse = torch.unique(flat, return_inverse=True)
    if len(uniq) < len(flat):
        sums = torch.zeros(len(uniq), dtype=flat.dtype, device=flat.device).index_add_(0, inverse, ranks)
        counts = torch.zeros(len(uniq), dtype=flat.dtype, device=flat.device).index_add_(0, inverse, torch.ones_like(ranks))
        ranks = (sums / counts)[inverse]
    p = (ranks - 0.375) / (len(flat) + 0.25)
    return (torch.special.ndtri(p)).reshape(x.shape)


def _rhat(x: Tensor) -> float:
    """Classic R-hat of ``x`` ``(n, chains)``: ``sqrt(((n - 1) / n W + B / n) / W)``."""
    n = x.shape[0]
    within = x.var(0, unbiased=True).mean()
    between_over_n = x.mean(0).var(unbiased=True)
    if float(within) <= 0.0:
        return 1.0 if float(between_over_n) <= 0.0 else float("inf")
    return float(torch.sqrt(((n - 1) / n * within + between_over_n) / within))


def split_rhat(trace: Tensor, rank: bool = True) -> float:
    """Split R-hat of ``trace`` ``(T, M)`` (``T`` draws of ``M`` chains), rank-normalised and
    folded as in Vehtari et al. (2021) unless ``rank`` is False; ``T >= 4``, ``M >= 1``."""
    if trace.ndim != 2:
        raise ValueError(f"trace must be (draws, chains), got shape {tuple(trace.shape)}")
    draws, chains = trace.shape
    if draws < 4 or chains < 1:
        raise ValueError(f"split R-hat needs at least 4 draws of at least 1 chain, got {draws} x {chains}")
    half = draws // 2
    x = trace[draws - 2 * half :].double()  # drop the first draw of an odd trace
    halves = torch.cat([x[:half], x[half:]], dim=1)
    if not rank:
        return _rhat(halves)
    bulk = _rhat(_normal_scores(halves))
    folded = _rhat(_normal_scores((halves - halves.median()).abs()))
    return max(bulk, folded)


@dataclass(frozen=True)
class MixingReport:
    """How a call of the sampler ended: sweeps before the samples and the R-hats then."""

    burn_in_sweeps: int  # Gibbs sweeps from the chain starts to the first sample
    rhat_energy: float  # split R-hat of the free energy over the last half of the burn-in
    rhat_max: float  # the largest split R-hat of every traced statistic (energy and projections)
    chains: int  # chains traced
    capped: bool  # the cap was reached before the R-hats fell below the threshold
    threshold: float  # the R-hat threshold the sampler ran to (inf: a fixed burn-in)
    replicas: int = 1  # tempered replicas per chain (1: plain Gibbs)
    swap_rates: list[float] = field(default_factory=list)  # accepted share of swaps per neighbouring pair of replicas

    @property
    def mixed(self) -> bool:
        return self.rhat_max < self.threshold if self.threshold != float("inf") else self.rhat_max < RHAT_MIXED

    def as_metrics(self) -> dict[str, float | None]:
        out = {
            "burn_in_sweeps": float(self.burn_in_sweeps),
            "rhat_energy": self.rhat_energy if math.isfinite(self.rhat_energy) else None,  # None: too few traced draws
            "rhat_max": self.rhat_max if math.isfinite(self.rhat_max) else None,
            "mixing_capped": float(self.capped),
            "mixing_chains": float(self.chains),
            "mixing_replicas": float(self.replicas),
        }
        if self.replicas > 1:
            out["mixing_min_swap_rate"] = min(self.swap_rates)
        return out
