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
``E[Zhat] = Z``, so by Jensen ``E[log Zhat] <= log Z``: AIS is a stochastic lower bound on
``log Z`` (Grosse et al. 2015), and ``-F(v) - log Zhat`` one on the NLL. The weights'
effective sample size ``ESS = (sum w)^2 / sum w^2`` (Kong 1992) says how many chains the
estimate really rests on; the standard error means little when it is a handful.

RAISE (Burda, Grosse & Salakhutdinov 2015) runs the same path backwards from a data
vector ``v``: ``v_K = v``, ``v_k ~ T_bk(. | v_(k+1))`` for ``k = K-1 .. 1``. Block Gibbs on
the visibles is reversible, so ``w = exp(-F(v)) / (Z_0 prod_k f_bk(v_k) / f_b(k-1)(v_k))``
is an unbiased estimate of ``p_fwd(v)``, the probability of ``v`` under the *annealing
model* (draw ``p_0``, then the forward transitions). ``log w`` is a stochastic lower bound
on ``log p_fwd(v)``, which tends to ``log p(v)`` as the path gets finer: the conservative
side of the sandwich ``RAISE <= log p(v) <= -F(v) - log Zhat_AIS``.

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

from genmodels.models.rbm.config import Schedule

#: Largest hidden layer :func:`exact_log_z` enumerates (2^20 ~ one million states).
MAX_EXACT_HIDDEN = 20


class Annealable(Protocol):
    """What an RBM exposes so that AIS and exact enumeration need not know its visible type."""

    n_hidden: int

    def free_energy(self, v: Tensor) -> Tensor:
        """``F(v) = -log sum_h exp(-E(v, h))``: ``-F`` is the path's ``log p_1*`` (base measure included)."""
        ...

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

    @property
    def chains(self) -> int:
        """Number of AIS chains (0 for an exact value)."""
        return 0 if self.log_weights is None else len(self.log_weights)

    @property
    def ess(self) -> float | None:
        """Effective sample size of the final AIS weights (None for an exact value)."""
        return None if self.log_weights is None else effective_sample_size(self.log_weights)


#: The ``tail`` schedule: (end of a segment, share of the temperatures up to it). Salakhutdinov
#: & Murray (2008) put 500, 4000 and 10000 of their temperatures on [0, .5], [.5, .9] and
#: [.9, 1]; on the digits RBM the log weights' variance also grows mostly above 0.9 (measured,
#: ESS of 100 chains: linear 5000 -> 5-22, linear 20000 -> 7-18, this schedule at 10000 -> 15-40).
TAIL_SEGMENTS = ((0.5, 500 / 14500), (0.9, 4500 / 14500), (1.0, 1.0))


def linear_betas(n: int, device: torch.device | str = "cpu") -> Tensor:
    """``n`` inverse temperatures spaced evenly on [0, 1], both ends included (float64)."""
    if n < 2:
        raise ValueError(f"AIS needs at least 2 inverse temperatures, got {n}")
    return torch.linspace(0.0, 1.0, n, dtype=torch.float64, device=device)


def annealing_betas(n: int, schedule: Schedule = "linear", device: torch.device | str = "cpu") -> Tensor:
    """``n`` increasing inverse temperatures from 0 to 1: ``linear``, or ``tail`` (piecewise
    linear, denser towards 1 as in :data:`TAIL_SEGMENTS`)."""
    t = linear_betas(n, device)
    if schedule == "linear":
        return t
    if schedule != "tail":
        raise ValueError(f"unknown AIS schedule {schedule!r} (known: linear, tail)")
    ends = torch.tensor([0.0, *(e for e, _ in TAIL_SEGMENTS)], dtype=torch.float64, device=device)
    shares = torch.tensor([0.0, *(q for _, q in TAIL_SEGMENTS)], dtype=torch.float64, device=device)
    seg = torch.searchsorted(shares, t, right=True).clamp(1, len(shares) - 1)
    frac = (t - shares[seg - 1]) / (shares[seg] - shares[seg - 1])
    return ends[seg - 1] + frac * (ends[seg] - ends[seg - 1])


def effective_sample_size(log_w: Tensor) -> float:
    """Kong's ``ESS = (sum w)^2 / sum w^2`` of importance weights given as logs: 1 .. M."""
    w = torch.exp(log_w.double() - log_w.max())
    return float(w.sum() ** 2 / (w**2).sum())


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


def path_increment(model: Annealable, v: Tensor, lo: float, hi: float) -> tuple[Tensor, Tensor]:
    """``log p_hi*(v) - log p_lo*(v)`` per row (float64) and the hidden input ``a(v)``."""
    base, target, a = model.ais_terms(v)
    step = (hi - lo) * (target - base) + softplus_increment(a, lo, hi).sum(1)
    return step.to(torch.float64), a


@torch.no_grad()
def ais_log_z(model: Annealable, n_betas: int, chains: int, generator: torch.Generator, schedule: Schedule = "linear") -> LogZEstimate:
    """AIS estimate of log Z with ``chains`` chains over ``n_betas`` temperatures of ``schedule``."""
    if chains < 1:
        raise ValueError(f"AIS needs at least one chain, got {chains}")
    betas = annealing_betas(n_betas, schedule).tolist()
    v = model.ais_base_sample(chains, generator)
    log_w = torch.zeros(chains, dtype=torch.float64, device=v.device)
    for k in range(1, len(betas)):
        step, a = path_increment(model, v, betas[k - 1], betas[k])
        log_w += step
        if k < len(betas) - 1:
            v = model.ais_transition(v, a, betas[k], generator)
    log_ratio, stderr = log_mean_exp_with_stderr(log_w)
    return LogZEstimate(float(model.ais_base_log_z()) + log_ratio, stderr, log_w, v)


@torch.no_grad()
def raise_log_prob(model: Annealable, v: Tensor, n_betas: int, chains: int, generator: torch.Generator, schedule: Schedule = "linear") -> Tensor:
    """RAISE (Burda et al. 2015): per row of visible units ``v``, a stochastic lower bound on ``log p(v)``.

    ``chains`` reverse chains per row start at ``v`` and anneal down to the base model through
    the ``n_betas`` temperatures of ``schedule``; the estimate is ``logmeanexp`` of their
    ``log w = -F(v) - log Z_0 - sum_k [log f_bk(v_k) - log f_b(k-1)(v_k)]`` (float64).
    """
    if chains < 1:
        raise ValueError(f"RAISE needs at least one chain per vector, got {chains}")
    betas = annealing_betas(n_betas, schedule).tolist()
    x = v.repeat_interleave(chains, 0)
    log_w = -model.free_energy(x).to(torch.float64) - float(model.ais_base_log_z())
    a = model.ais_terms(x)[2]
    for k in range(len(betas) - 1, 0, -1):
        x = model.ais_transition(x, a, betas[k], generator)  # reversible, so it is its own reverse kernel
        step, a = path_increment(model, x, betas[k - 1], betas[k])
        log_w -= step
    return torch.logsumexp(log_w.view(len(v), chains), 1) - math.log(chains)


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
