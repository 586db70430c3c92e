"""Partition function of an RBM: annealed importance sampling and exact enumeration.

AIS (Neal 2001) as applied to RBMs by Salakhutdinov & Murray (2008). A tractable base
model ``p_0`` (an RBM without interactions whose visible biases match the data marginals)
is annealed into the target ``p_1`` through the geometric path

    log p_b*(v) = (1 - b) log p_0*(v) + b log p_1*(v),     0 = b_0 < b_1 < ... < b_K = 1,

where the hidden units are summed out analytically, so for an RBM with hidden input
``a(v)`` (``H`` Bernoulli units)

    log p_b*(v) = (1 - b) base(v) + b model(v) + sum_j softplus(b a_j(v)) + (terms free of b).

Each chain starts at ``v_1 ~ p_0``, moves by a Gibbs transition that leaves ``p_bk``
invariant and collects ``log w = sum_k log p_bk*(v_k) - log p_b(k-1)*(v_k)`` (terms in the
model's dtype, accumulated in float64). Then ``Z_1 / Z_0 ~= mean(w)`` over ``M`` chains,
and the delta method gives the standard error ``se(log Zhat) ~= std(w) / (sqrt(M) mean(w))``.

Summing out the visible units in closed form (binomial sums, Gaussian integrals) gives the
exact mass ``Z(h) = sum_v exp(-E(v, h))`` of each hidden state: over all ``2^H`` states it is
the exact ``log Z`` for small layers (:func:`exact_log_z`), over a few chosen states a sure
lower bound (:func:`hidden_subset_log_z`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

#: Largest hidden layer :func:`exact_log_z` enumerates (2^20 ~ one million states).
MAX_EXACT_HIDDEN = 20


class Annealable(Protocol):
    """What an RBM exposes so that AIS and exact enumeration need not know its visible type."""

    n_hidden: int

    def ais_base_log_z(self) -> Tensor:
        """log Z_0 of the base model (including the ``H log 2`` of its free hidden units)."""
        ...

    def ais_base_sample(self, m: int, generator: torch.Generator) -> Tensor:
        """``m`` independent visible vectors from the base model."""
        ...

    def ais_terms(self, v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(base(v), model(v), a(v))`` of the path formula above."""
        ...

    def ais_transition(self, v: Tensor, hidden_input: Tensor, beta: float, generator: torch.Generator) -> Tensor:
        """One Gibbs sweep ``h ~ p_b(h|v)``, ``v ~ p_b(v|h)`` leaving ``p_b`` invariant."""
        ...

    def log_z_given_hidden(self, h: Tensor) -> Tensor:
        """``log sum_v exp(-E(v, h))`` for each row of hidden states ``h``."""
        ...


@dataclass(frozen=True)
class LogZEstimate:
    """An estimate of log Z with its standard error (0 for the exact value).

    ``log_weights`` and ``states`` (the chains' final visible vectors) come with AIS.
    """

    log_z: float
    stderr: float
    log_weights: Tensor | None = None
    states: Tensor | None = None


def linear_betas(n: int, device: torch.device | str = "cpu") -> Tensor:
    """``n`` inverse temperatures spaced evenly on [0, 1], both ends included (float64)."""
    if n < 2:
        raise ValueError(f"AIS needs at least 2 inverse temperatures, got {n}")
    return torch.linspace(0.0, 1.0, n, dtype=torch.float64, device=device)


def log_mean_exp_with_stderr(log_w: Tensor) -> tuple[float, float]:
    """``log mean(w)`` and its delta-method standard error ``std(w) / (sqrt(M) mean(w))``."""
    if log_w.ndim != 1 or len(log_w) == 0:
        raise ValueError(f"log weights must be a non-empty vector, got shape {tuple(log_w.shape)}")
    m = len(log_w)
    log_mean = torch.logsumexp(log_w, 0) - math.log(m)
    if m < 2:
        return float(log_mean), float("inf")
    rel = torch.exp(log_w - log_mean)  # w / mean(w): mean 1, finite in float64
    return float(log_mean), float(rel.std(unbiased=True) / math.sqrt(m))


def softplus_increment(a: Tensor, lo: float, hi: float) -> Tensor:
    """``softplus(hi a) - softplus(lo a)`` without cancellation, for ``0 <= lo <= hi``.

    With ``s = |a|``: ``relu((hi - lo) a) + log1p(expm1(-(hi - lo) s) sigmoid(-lo s))``, exact
    and accurate in float32 however small the step, so the log weights can be summed in
    float64 from float32 terms.
    """
    s = a.abs()
    return torch.relu((hi - lo) * a) + torch.log1p(torch.expm1(-(hi - lo) * s) * torch.sigmoid(-lo * s))


@torch.no_grad()
def ais_log_z(model: Annealable, n_betas: int, chains: int, generator: torch.Generator) -> LogZEstimate:
    """AIS estimate of log Z with ``chains`` chains over ``n_betas`` linear temperatures."""
    if chains < 1:
        raise ValueError(f"AIS needs at least one chain, got {chains}")
    betas = linear_betas(n_betas).tolist()
    v = model.ais_base_sample(chains, generator)
    log_w = torch.zeros(chains, dtype=torch.float64, device=v.device)
    for k in range(1, len(betas)):
        lo, hi = betas[k - 1], betas[k]
        base, target, a = model.ais_terms(v)
        step = (hi - lo) * (target - base) + softplus_increment(a, lo, hi).sum(1)
        log_w += step.to(torch.float64)
        if k < len(betas) - 1:
            v = model.ais_transition(v, a, hi, generator)
    log_ratio, stderr = log_mean_exp_with_stderr(log_w)
    return LogZEstimate(float(model.ais_base_log_z()) + log_ratio, stderr, log_w, v)


def hidden_states(start: int, stop: int, n_hidden: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float64) -> Tensor:
    """Rows ``start..stop-1`` of the ``2^H x H`` table of all binary hidden states."""
    codes = torch.arange(start, stop, device=device).unsqueeze(1)
    bits = 2 ** torch.arange(n_hidden, device=device)
    return ((codes // bits) % 2).to(dtype)


@torch.no_grad()
def hidden_subset_log_z(model: Annealable, h: Tensor) -> float:
    """``log sum_{h in S} sum_v exp(-E(v, h))`` over the distinct rows ``S`` of ``h``: a sure lower bound on log Z.

    AIS can miss a mode that holds most of Z (its estimate is then far too low with a small
    standard error); summing the exact mass of a few hidden states that head such modes
    (``h = 0``, the states of the chains) exposes that.
    """
    return float(torch.logsumexp(model.log_z_given_hidden(torch.unique(h, dim=0)), 0))


@torch.no_grad()
def exact_log_z(model: Annealable, chunk: int = 1 << 14) -> LogZEstimate:
    """``log Z`` by enumerating the ``2^H`` hidden states (``H <= MAX_EXACT_HIDDEN``).

    Runs in the model's dtype: pass a float64 copy for a reference value.
    """
    h_count = model.n_hidden
    if h_count > MAX_EXACT_HIDDEN:
        raise ValueError(f"exact log Z enumerates 2^H hidden states; H={h_count} exceeds {MAX_EXACT_HIDDEN}")
    ref = model.ais_base_log_z()
    parts = []
    for s in range(0, 2**h_count, chunk):
        h = hidden_states(s, min(s + chunk, 2**h_count), h_count, ref.device, ref.dtype)
        parts.append(torch.logsumexp(model.log_z_given_hidden(h), 0))
    return LogZEstimate(float(torch.logsumexp(torch.stack(parts), 0)), 0.0)
