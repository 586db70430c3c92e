"""The RBM's sampler: block Gibbs chains, optionally tempered, run until they mix.

Parallel tempering (Swendsen & Wang 1986; Geyer 1991; for RBMs Desjardins et al. 2010):
each of ``M`` chains holds ``R`` replicas on a ladder ``1 = b_0 > b_1 > ... > b_(R-1) >= 0``
of the AIS path (:mod:`.ais`) between the base model ``p_0`` (the data marginals) and the
RBM ``p_1``, with the hidden units summed out:

    f_b(v) = log p_b*(v) = (1 - b) base(v) + b model(v) + sum_j softplus(b a_j(v)).

Every sweep moves each replica by the Gibbs transition that leaves its ``p_b`` invariant
(``Annealable.ais_transition``), then proposes to swap the states of neighbouring replicas,
accepted with probability ``min(1, exp(f_bi(v_j) + f_bj(v_i) - f_bi(v_i) - f_bj(v_j)))``;
even sweeps pair (0, 1), (2, 3), ..., odd sweeps (1, 2), (3, 4), ... (the deterministic
even-odd scheme, Okabe et al. 2001; Syed et al. 2022). States reach the target replica
from the base, where they are independent draws of the marginals, so a chain changes mode
without crossing the energy barrier at ``b = 1``. ``R = 1`` is plain block Gibbs.

The burn-in traces, on the target replica of every chain, the free energy and the
projections of ``v`` on ``W``'s leading left singular vectors, and stops once their split
R-hat (:mod:`.mixing`) over the last half of the sweeps falls below the threshold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from genmodels.models.rbm.ais import annealing_betas
from genmodels.models.rbm.mixing import MixingReport, split_rhat

if TYPE_CHECKING:
    from genmodels.models.rbm.model import RBM


def ladder(replicas: int, beta: float = 1.0, schedule: str = "tail") -> Tensor:
    """``replicas`` inverse temperatures from ``beta`` down to 0, spaced as the AIS ``schedule`` (float64)."""
    if replicas < 1:
        raise ValueError(f"tempering needs at least one replica, got {replicas}")
    if replicas == 1:
        return torch.tensor([beta], dtype=torch.float64)
    return annealing_betas(replicas, schedule).flip(0) * beta  # type: ignore[arg-type]


class TemperedChains:
    """``M`` chains of ``R`` replicas each, as rows ``(R * M, D)``: replica ``r`` of chain ``m`` is row ``r M + m``."""

    def __init__(self, model: RBM, starts: Tensor, betas: Tensor, generator: torch.Generator, parity: int = 0) -> None:
        self.model, self.generator = model, generator
        self.replicas = len(betas)
        self.chains = len(starts) // self.replicas
        self.betas = betas.to(starts.dtype)
        self.column = self.betas.repeat_interleave(self.chains)[:, None]  # each row's inverse temperature
        self.v = starts
        self.sweeps = 0
        self.parity = parity  # which pairs the first sweep proposes to swap: 0 (0-1, 2-3, ..) or 1 (1-2, 3-4, ..)
        self.swaps_tried = torch.zeros(max(self.replicas - 1, 1), dtype=torch.float64)
        self.swaps_done = torch.zeros_like(self.swaps_tried)
        self._terms()

    def _terms(self) -> None:
        self.base, self.target, self.a = self.model.ais_terms(self.v)

    def target_states(self) -> Tensor:
        """The visible states of the target replica (``b_0``) of every chain ``(M, D)``."""
        return self.v[: self.chains]

    def target_free_energy(self) -> Tensor:
        """``F(v)`` of the target replicas (from the cached hidden input)."""
        m = self.model
        v = self.target_states()
        return m.units.visible_energy(v, m.vbias, m.log_std) - F.softplus(self.a[: self.chains]).sum(1)

    def _swap(self) -> None:
        """Propose swaps between the neighbouring replicas of this sweep's parity; Metropolis-accept each."""
        r, m = self.replicas, self.chains
        lo = torch.arange((self.sweeps + self.parity) % 2, r - 1, 2, device=self.v.device)
        if len(lo) == 0:
            return
        hi = lo + 1
        base, target, a = self.base.view(r, m), self.target.view(r, m), self.a.view(r, m, -1)

        def log_f(rows: Tensor, beta: Tensor) -> Tensor:  # f_beta(v) of replicas ``rows`` at ``beta`` (one per row)
            b = beta[:, None]
            return (1 - b) * base[rows] + b * target[rows] + F.softplus(b[..., None] * a[rows]).sum(-1)

        b_lo, b_hi = self.betas[lo], self.betas[hi]
        log_alpha = log_f(hi, b_lo) + log_f(lo, b_hi) - log_f(lo, b_lo) - log_f(hi, b_hi)  # (pairs, chains)
        u = torch.rand(log_alpha.shape, generator=self.generator, device=self.v.device, dtype=log_alpha.dtype)
        accept = torch.log(u) < log_alpha
        self.swaps_tried[lo.cpu()] += m
        self.swaps_done[lo.cpu()] += accept.sum(1).cpu().double()
        for name in ("v", "base", "target", "a"):
            t = getattr(self, name).view(r, m, -1)
            keep = accept.view(*accept.shape, *([1] * (t.ndim - 2)))
            t_lo, t_hi = t[lo], t[hi]
            t[lo], t[hi] = torch.where(keep, t_hi, t_lo), torch.where(keep, t_lo, t_hi)

    def sweep(self) -> None:
        """One Gibbs transition of every replica (after this sweep's swaps)."""
        if self.replicas > 1:
            self._swap()
        self.v = self.model.ais_transition(self.v, self.a, self.column, self.generator)  # type: ignore[arg-type]
        self.sweeps += 1
        self._terms()

    def swap_rates(self) -> list[float]:
        """Accepted share of the proposed swaps per neighbouring pair."""
        return (self.swaps_done / self.swaps_tried.clamp_min(1)).tolist()


def trace_directions(model: RBM, k: int) -> Tensor:
    """``W``'s ``k`` leading left singular vectors ``(D, k)``: the traced projections of ``v``."""
    k = min(k, *model.weight.shape)
    if k == 0:
        return model.weight.new_zeros(model.dim, 0)
    return torch.linalg.svd(model.weight.detach(), full_matrices=False)[0][:, :k]


@torch.no_grad()
def burn_in(model: RBM, state: TemperedChains) -> MixingReport:
    """Sweep ``state`` until its target replicas mix (``burn_in = "auto"``) or for ``burn_in`` sweeps.

    Every ``trace_every`` sweeps the free energy and the projections on
    :func:`trace_directions` of every chain's target replica are traced; every
    ``rhat_every`` sweeps from ``burn_in_min`` on, the split R-hat of each over the last half
    of the sweeps (:func:`.mixing.split_rhat`) decides whether to stop.
    """
    cfg = model.config
    auto = cfg.burn_in == "auto"
    cap = cfg.burn_in_max if auto else int(cfg.burn_in)
    directions = trace_directions(model, cfg.rhat_projections)
    sweeps: list[int] = []
    trace: list[Tensor] = []

    def rhats(t: int) -> tuple[float, float]:
        window = [x for s, x in zip(sweeps, trace) if s > t // 2]
        if len(window) < 4:
            return float("inf"), float("inf")
        stacked = torch.stack(window)  # (draws, stats, chains)
        values = [split_rhat(stacked[:, j]) for j in range(stacked.shape[1])]
        return values[0], max(values)

    rhat_energy = rhat_max = float("inf")
    while state.sweeps < cap:
        t = state.sweeps
        if t > 0 and t % cfg.trace_every == 0:
            v = state.target_states()
            trace.append(torch.cat([state.target_free_energy()[None], (v @ directions).T]).float())
            sweeps.append(t)
        if auto and t >= cfg.burn_in_min and t % cfg.rhat_every == 0:
            rhat_energy, rhat_max = rhats(t)
            if rhat_max < cfg.rhat_threshold:
                break
        state.sweep()
    capped = auto and state.sweeps >= cap
    if not auto or capped:
        rhat_energy, rhat_max = rhats(state.sweeps)
    threshold = cfg.rhat_threshold if auto else float("inf")
    return MixingReport(state.sweeps, rhat_energy, rhat_max, state.chains, capped, threshold, state.replicas, state.swap_rates())
