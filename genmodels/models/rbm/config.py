"""The RBM family's typed config (pydantic only: validating params needs no torch)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from genmodels.configbase import StrictModel
from genmodels.models.core.registry import register_model_config

Schedule = Literal["linear", "tail"]  # spacing of inverse temperatures on [0, 1] (ais.annealing_betas)


@register_model_config("rbm")
class RBMConfig(StrictModel):
    visible: Literal["auto", "bernoulli", "binomial", "gaussian"] = "auto"  # auto: binomial for images, gaussian for points
    # number of Bernoulli hidden units. Digits (binomial visibles, PCD, 300 epochs), validation
    # FID at a 1000-sweep burn-in: 32 -> 40.5, 64 -> 5.4 and 9.7 (two training runs that differ
    # only in their random draws), 128 -> 15.4, 256 -> 17.5; the larger layers fit the
    # likelihood better (test NLL 2.0 bits/dim at 256, 2.5 at 64) but put their chains into few
    # digit classes
    hidden: int = Field(64, ge=1)
    # negative phase: chains from the data (CD), persistent chains (PCD), or persistent chains
    # tempered with train_replicas replicas each (PT: parallel tempering, Desjardins et al. 2010;
    # digits, 64 hidden, 8 linear replicas x 64 chains, 200 epochs: validation FID 20.2 vs PCD's
    # 5.4, the swap between b = 1 and 6/7 accepted ~3% of the time)
    method: Literal["cd", "pcd", "pt"] = "pcd"
    k: int = Field(1, ge=1)  # Gibbs sweeps per update (the k of CD-k / PCD-k)
    pcd_chains: int = Field(256, ge=1)  # persistent chains (methods pcd and pt)
    train_replicas: int = Field(8, ge=2)  # tempered replicas per persistent chain (method pt)
    # spacing of the tempering ladders (sampling and method pt) on the AIS path between the data
    # marginals (b = 0) and the RBM (b = 1): linear, or the AIS tail schedule (denser near 1)
    ladder: Schedule = "linear"
    init_std: float = Field(0.01, gt=0.0)  # std of the initial weights (Hinton's practical guide)
    # initial (or fixed) std of gaussian visibles; small, so the hidden units must explain the
    # spread (from 1.0 on toy2d the std grows to the data's and the weights stay near 0)
    gaussian_std: float = Field(0.1, gt=0.0)
    learn_std: bool = True  # learn the gaussian visible stds (else keep gaussian_std)
    min_std: float = Field(0.01, gt=0.0)  # floor of the gaussian visible stds
    # Gibbs sweeps from a chain's start to its first sample: "auto" runs the chains until the
    # rank-normalised split R-hat (mixing.py) of their free energy and of their projections on
    # W's leading singular vectors, over the last half of the sweeps so far, is below
    # rhat_threshold (checked every rhat_every sweeps from burn_in_min on, at most burn_in_max
    # sweeps: a chain set that reaches the cap is reported as capped); a number: that many
    # sweeps, with the R-hats still reported (metrics keys burn_in_sweeps, rhat_*, mixing_capped)
    burn_in: Annotated[int, Field(ge=1)] | Literal["auto"] = "auto"
    burn_in_min: int = Field(100, ge=4)  # fewest sweeps of an "auto" burn-in
    # the cap of an "auto" burn-in. Digits default: the chains do not mix within any affordable
    # length (split R-hat of the projections 2.6 at 1000 sweeps, 2.0 at 5000: a chain keeps its
    # digit class for thousands of sweeps; 8 tempered replicas do not help), so the samples come
    # from the cap and are flagged. Validation FID at the cap, 2000 chains, three sampling seeds
    # of one model: 500 -> 6.5-6.7, 1000 -> 5.4-5.9 (~9 ms a sample at 1 thread); longer
    # chains drift to more 0s
    burn_in_max: int = Field(1000, ge=4)
    rhat_threshold: float = Field(1.01, gt=1.0)  # "mixed": every traced split R-hat below this (Vehtari et al. 2021)
    rhat_every: int = Field(100, ge=1)  # sweeps between two R-hat checks of an "auto" burn-in
    trace_every: int = Field(5, ge=1)  # sweeps between two traced draws of the statistics
    rhat_projections: int = Field(3, ge=0)  # traced projections of v on W's leading left singular vectors
    # replicas per sampling chain for parallel tempering on the AIS path (sampler.py), spaced
    # as ladder; 1: plain block Gibbs. Digits: 8 or 12 replicas leave R-hat at 1.6-2.2 after
    # 2000 sweeps (swaps at the top of the ladder accepted 2-7% of the time) at 5-8x the cost
    sample_replicas: int = Field(1, ge=1)
    thin: int = Field(20, ge=1)  # Gibbs sweeps between successive samples of one chain (sample_chains < n)
    sample_chains: int | None = Field(None, ge=1)  # independent chains per sample() call (None: one chain per sample)
    # chain starts, independent of the data and of training: draws from the AIS base model
    # (the data marginals) or uninformed noise (see RBM.sample)
    sample_init: Literal["marginals", "random"] = "marginals"
    sample_output: Literal["draw", "mean"] = "draw"  # a draw of the visible units, or E[v|h] at the last sweep
    # AIS (log Z, the NLL's optimistic side). Digits default, 1 thread: ESS 15-35 of the 100
    # chains, log Z spread 0.3 nat over seeds, ~20 s (linear 5000: ESS 5-22, spread 0.7)
    ais_chains: int = Field(100, ge=2)  # AIS importance-sampling chains (M)
    ais_betas: int = Field(10000, ge=2)  # AIS inverse temperatures on [0, 1]
    ais_schedule: Schedule = "tail"  # their spacing: even, or denser towards beta = 1 (ais.TAIL_SEGMENTS)
    # RAISE (the NLL's conservative side). Digits default: 3000 temperatures leave a gap of
    # 0.02 bits/dim to AIS (1000: 0.06, 10000: 0.01) at ~0.08 s per image
    raise_chains: int = Field(1, ge=1)  # RAISE reverse chains per evaluated vector
    raise_betas: int = Field(3000, ge=2)  # RAISE inverse temperatures (ais_schedule's spacing)

    @model_validator(mode="after")
    def _burn_in_range(self) -> RBMConfig:
        if self.burn_in_min > self.burn_in_max:
            raise ValueError(f"burn_in_min ({self.burn_in_min}) must not exceed burn_in_max ({self.burn_in_max})")
        return self
