"""Restricted Boltzmann machine (Smolensky 1986; Hinton 2002) trained by CD-k or PCD.

Hidden units are Bernoulli; the visible units are one of the strategy objects of
:mod:`genmodels.models.rbm.visible`:

* ``binomial`` (:class:`~.visible.BinomialUnits`): ``N = K - 1`` trials for data with ``K``
  levels (the exponential-family harmonium of Welling et al. 2005; N = 1 is the Bernoulli
  RBM): ``-E(v, h) = b.v + c.h + v'Wh + sum_i log C(N, v_i)``, ``v_i in {0..N}``, so
  ``p(v_i | h) = Binomial(N, sigmoid(b_i + W_i h))``. Its probability ``P(k)`` of the
  discrete levels gives the density ``log p(v) = log P(k) + D log K`` of dequantized data
  (:mod:`genmodels.models.core.dequantize`), exactly comparable with the other families.
* ``bernoulli`` (:class:`~.visible.BernoulliUnits`): the same with ``N = 1`` on images
  binarized at 0.5; ``P(k)`` spreads the probability of each binary value evenly over the
  levels that binarize to it.
* ``gaussian`` (:class:`~.visible.GaussianUnits`; Cho et al. 2011): ``E(v, h) = sum_i
  (v_i - b_i)^2 / 2 s_i^2 - c.h - sum_ij v_i W_ij h_j / s_i^2``, so ``p(v | h) =
  N(b + Wh, diag s^2)``, with the standard deviations ``s`` learned (log-parametrised) or
  fixed. On images it models the dequantized ``v``; its density on R^D integrates to at most
  1 over [0, 1]^D, so the bits/dim stay an upper bound.

Training minimises the surrogate ``mean F(v_data) - mean F(v_neg)`` with the negatives
detached (``F`` the free energy): its gradient is the CD-k (Hinton 2002) or, with
persistent chains, the PCD (Tieleman 2008) estimate of the negative log-likelihood gradient.
``log_likelihood`` is ``-F(v) - log Z`` with ``log Z`` from AIS (:mod:`.ais`), cached
until the parameters change; :meth:`RBM.discrete_log_prob_bounds` sandwiches ``log P(k)``
between RAISE and AIS (Burda et al. 2015). Samples come from independent block Gibbs chains
started at the AIS base model, never from the training chains (see :meth:`RBM.sample`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genmodels.data.base import DatasetInfo
from genmodels.models.core.base import GenerativeModel
from genmodels.models.core.dequantize import dequantize
from genmodels.models.core.registry import register_model
from genmodels.models.rbm.ais import MAX_EXACT_HIDDEN, LogZEstimate, ais_log_z, exact_log_z, hidden_subset_log_z, raise_log_prob
from genmodels.models.rbm.config import RBMConfig
from genmodels.models.rbm.mixing import MixingReport
from genmodels.models.rbm.sampler import TemperedChains, burn_in, ladder, trace_directions
from genmodels.models.rbm.visible import VISIBLE_UNITS, VisibleUnits, draw_bernoulli


@register_model("rbm")
class RBM(GenerativeModel):
    config_cls = RBMConfig
    likelihood_kind = "estimate"
    discrete_kind = "estimate"

    def __init__(self, config: RBMConfig, info: DatasetInfo) -> None:
        super().__init__(config, info)
        kind = config.visible
        if kind == "auto":
            kind = "binomial" if info.levels is not None else "gaussian"
        units_cls = VISIBLE_UNITS[kind]
        if units_cls.discrete and info.levels is None:
            raise ValueError(f"rbm.visible={kind} needs discrete data (levels), but {info.name!r} is continuous: use gaussian")
        if info.levels is not None and info.levels < 2:
            raise ValueError(f"rbm needs at least 2 levels per dimension, got {info.levels}")
        self.visible = kind
        self.units: VisibleUnits = units_cls.for_data(info.levels, config.min_std)
        self.trials = self.units.trials  # binomial trials N per unit (0: gaussian)
        self.dim = math.prod(self.data_shape)
        self.n_hidden = config.hidden
        d, h = self.dim, config.hidden
        self.weight = nn.Parameter(torch.randn(d, h) * config.init_std)
        self.vbias = nn.Parameter(torch.zeros(d))
        self.hbias = nn.Parameter(torch.zeros(h))
        log_std = torch.full((d,), math.log(config.gaussian_std))
        if self.units.has_std and config.learn_std:
            self.log_std = nn.Parameter(log_std)
        else:
            self.register_buffer("log_std", log_std)
        # running sums of the training data in unit space: the AIS base model and "marginals" starts
        self.register_buffer("stat_count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("stat_sum", torch.zeros(d, dtype=torch.float64))
        self.register_buffer("stat_sq", torch.zeros(d, dtype=torch.float64))
        replicas = {"cd": 0, "pcd": 1, "pt": config.train_replicas}[config.method]
        self.register_buffer("chains", torch.zeros(config.pcd_chains * replicas, d))
        self.register_buffer("chains_ready", torch.zeros((), dtype=torch.bool))
        self._log_z_cache: tuple[tuple[int, ...], LogZEstimate] | None = None
        self.last_mixing: MixingReport | None = None  # how the last sample() call's burn-in ended

    # -- data <-> visible units (the strategy: genmodels.models.rbm.visible) ------------------
    def units_from_data(self, x: Tensor) -> Tensor:
        """Data-space values ``k/(K-1)`` (or raw points) -> visible units ``(n, D)``."""
        return self.units.units_from_data(x.reshape(len(x), -1))

    def _units_from_density(self, v: Tensor) -> tuple[Tensor, Tensor]:
        """Density-space ``v`` -> (units, log-density offset): ``log p(v) = -F - log Z + offset``."""
        return self.units.units_from_density(v.reshape(len(v), -1))

    # -- energy and conditionals ---------------------------------------------------------
    def std(self) -> Tensor:
        """The gaussian visibles' standard deviations ``s = max(exp(log_std), min_std)``."""
        return self.log_std.exp().clamp_min(self.config.min_std)

    def hidden_input(self, v: Tensor) -> Tensor:
        """``c + W'v`` (binomial) or ``c + W'(v / s^2)`` (gaussian)."""
        return self.hbias + self.units.hidden_drive(v, self.log_std) @ self.weight

    def free_energy(self, v: Tensor) -> Tensor:
        """``F(v) = -log sum_h exp(-E(v, h))`` per row of visible units."""
        hidden = F.softplus(self.hidden_input(v)).sum(1)
        return self.units.visible_energy(v, self.vbias, self.log_std) - hidden

    def sample_hidden(self, v: Tensor, beta: float, generator: torch.Generator) -> Tensor:
        return draw_bernoulli(torch.sigmoid(beta * self.hidden_input(v)), generator)

    def visible_mean(self, h: Tensor, beta: float = 1.0) -> Tensor:
        """Binomial: the success probability ``sigmoid(beta (b + Wh))``; gaussian: ``b + Wh``."""
        return self.units.mean(self.vbias + h @ self.weight.T, beta)

    def sample_visible(self, h: Tensor, beta: float, generator: torch.Generator) -> Tensor:
        """Draw ``v ~ p(v | h)`` at inverse temperature ``beta`` (the binomial base measure is not tempered)."""
        return self.units.draw(self.visible_mean(h, beta), self.log_std, beta, generator)

    @torch.no_grad()
    def gibbs(self, v: Tensor, steps: int, generator: torch.Generator, beta: float = 1.0) -> Tensor:
        """``steps`` sweeps of block Gibbs sampling ``h ~ p(h|v)``, ``v ~ p(v|h)``."""
        for _ in range(steps):
            v = self.sample_visible(self.sample_hidden(v, beta, generator), beta, generator)
        return v

    # -- training -----------------------------------------------------------------------
    @torch.no_grad()
    def _record_statistics(self, v: Tensor) -> None:
        v64 = v.detach().to(torch.float64)
        self.stat_count += len(v64)
        self.stat_sum += v64.sum(0)
        self.stat_sq += (v64**2).sum(0)

    def training_losses(self, x: Tensor, y: Tensor | None, generator: torch.Generator) -> Iterator[tuple[str, Tensor]]:
        """CD-k / PCD-k: yield ``mean F(data) - mean F(negatives)`` (negatives detached)."""
        v = self.units.training_units(x.reshape(len(x), -1), generator)  # gaussian: dequantized
        self._record_statistics(v)
        if self.config.method in ("pcd", "pt"):
            if not bool(self.chains_ready):
                idx = torch.arange(len(self.chains), device=v.device) % len(v)
                self.chains.copy_(v[idx])
                self.chains_ready.fill_(True)
            if self.config.method == "pcd":
                negatives = self.gibbs(self.chains, self.config.k, generator)
                self.chains.copy_(negatives)
            else:
                betas = ladder(self.config.train_replicas, 1.0, self.config.ladder).to(v.device)
                parity = int(torch.randint(2, (1,), generator=generator, device=v.device))  # alternate the swapped pairs over updates
                state = TemperedChains(self, self.chains, betas, generator, parity)
                for _ in range(self.config.k):
                    state.sweep()
                self.chains.copy_(state.v)
                negatives = state.target_states()
        else:
            negatives = self.gibbs(v, self.config.k, generator)
        yield "model", self.free_energy(v).mean() - self.free_energy(negatives.detach()).mean()

    # -- generation -----------------------------------------------------------------------
    def _chain_starts(self, m: int, generator: torch.Generator) -> Tensor:
        """``m`` independent starts: AIS base-model draws (``marginals``) or noise (``random``)."""
        if self.config.sample_init == "marginals":
            return self.ais_base_sample(m, generator).to(self.weight.dtype)
        return self.units.noise_start(m, self.vbias.detach(), self.log_std.detach(), generator)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator, temperature: float = 1.0) -> Tensor:
        """Block Gibbs on ``sample_chains`` independent chains (tempered with ``sample_replicas`` replicas each,
        :mod:`.sampler`): a burn-in until they mix (:func:`.sampler.burn_in`), then one sample every ``thin`` sweeps.

        The chains start at the AIS base model (the data marginals), not at the PCD training
        chains, so each sample is an approximate draw from the RBM itself, whose quality is
        set by the burn-in alone; by default each chain gives one sample. The sampler runs at
        inverse temperature ``1 / temperature``. A sample is the visible state ``v ~ p(v|h)``
        of the last sweep, or ``E[v|h]`` with ``sample_output = "mean"``. How the burn-in
        ended is kept in ``last_mixing``.
        """
        if n < 1:
            raise ValueError(f"number of samples must be positive, got {n}")
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        beta = 1.0 / temperature
        chains = min(n, self.config.sample_chains or n)
        mean = self.config.sample_output == "mean"
        betas = ladder(self.config.sample_replicas, beta, self.config.ladder).to(self.device)
        state = TemperedChains(self, self._chain_starts(chains * len(betas), generator), betas, generator)
        self.last_mixing = burn_in(self, state)
        out: list[Tensor] = []
        for i in range(math.ceil(n / chains)):
            if i > 0:
                for _ in range(self.config.thin):
                    state.sweep()
            v = state.target_states()
            if mean:  # E[v|h] with h drawn from the target replica's state
                out.append(self.units.mean_to_data(self.visible_mean(self.sample_hidden(v, beta, generator), beta)))
            else:
                out.append(self.units.units_to_data(v))
        return torch.cat(out)[:n].reshape(n, *self.data_shape).float()

    def sampler_mixing(self, n: int, generator: torch.Generator) -> tuple[dict[str, float | None], dict[str, str]]:
        """Draw ``n`` samples and return how their burn-in ended (keys of :meth:`.MixingReport.as_metrics`) and notes."""
        self.sample(n, generator)
        report: MixingReport = self.last_mixing
        cfg = self.config
        if cfg.burn_in == "auto":
            how = f"burn-in until every split R-hat < {cfg.rhat_threshold} (checked every {cfg.rhat_every} sweeps, {cfg.burn_in_min}..{cfg.burn_in_max})"
        else:
            how = f"fixed burn-in of {cfg.burn_in} sweeps"
        if not math.isfinite(report.rhat_max):
            state = f"R-hat undefined: {report.burn_in_sweeps} sweeps leave fewer than 4 traced draws in their last half"
        else:
            state = "CAPPED: not mixed at the cap" if report.capped else ("mixed" if report.mixed else "NOT MIXED")
        stats = f"free energy and {trace_directions(self, cfg.rhat_projections).shape[1]} projections on W's leading singular vectors"
        note = f"{state}; {how}; rank-normalised split R-hat (Vehtari et al. 2021) of the {stats}, over the last half of the sweeps of {report.chains} chains from the data marginals"
        if report.replicas > 1:
            note += f", each tempered with {report.replicas} replicas (lowest swap acceptance {min(report.swap_rates):.2f})"
        return report.as_metrics(), {"burn_in_sweeps": note}

    # -- likelihood -----------------------------------------------------------------------
    def _state_key(self) -> tuple[int, ...]:
        tensors = (self.weight, self.vbias, self.hbias, self.log_std, self.stat_count, self.stat_sum, self.stat_sq)
        return tuple(x for t in tensors for x in (t.data_ptr(), t._version))

    @torch.no_grad()
    def log_z(self, generator: torch.Generator) -> LogZEstimate:
        """AIS estimate of ``log Z``, computed once and reused until the weights change.

        Raised to :meth:`log_z_lower_bound` when AIS falls below it: the chains then missed a
        mode (a grey-noise mode at ``h = 0`` in briefly trained binomial RBMs, tests show).
        """
        key = self._state_key()
        if self._log_z_cache is None or self._log_z_cache[0] != key:
            est = ais_log_z(self, self.config.ais_betas, self.config.ais_chains, generator, self.config.ais_schedule)
            bound = self.log_z_lower_bound(est.states)
            if bound > est.log_z:  # AIS missed a mode: keep the sure bound (still a lower bound on log Z)
                est = LogZEstimate(bound, est.stderr, est.log_weights, est.states)
            self._log_z_cache = (key, est)
        return self._log_z_cache[1]

    @torch.no_grad()
    def log_z_lower_bound(self, states: Tensor | None = None) -> float:
        """Exact mass of the hidden states ``h = 0``, ``h = 1`` and the most likely ``h`` of the
        persistent chains and of ``states``: a sure lower bound on ``log Z`` (float64)."""
        twin = self._float64_twin()
        corners = torch.tensor([[0.0], [1.0]], dtype=torch.float64, device=self.device)
        rows = [corners.expand(2, self.n_hidden)]
        for v in (self.chains if bool(self.chains_ready) else None, states):
            if v is not None and len(v):
                rows.append((twin.hidden_input(v.to(torch.float64)) > 0).to(torch.float64))
        return hidden_subset_log_z(twin, torch.cat(rows))

    def exact_log_z(self) -> LogZEstimate:
        """``log Z`` by enumerating the hidden states in float64 (``hidden <= 20``)."""
        return exact_log_z(self._float64_twin())

    def _float64_twin(self) -> RBM:
        twin = copy.copy(self)  # shares nothing mutable that AIS touches: parameters are replaced below
        twin._parameters = {k: None if p is None else nn.Parameter(p.detach().double(), requires_grad=False) for k, p in self._parameters.items()}
        twin._buffers = {k: None if b is None else (b.double() if b.is_floating_point() else b) for k, b in self._buffers.items()}
        twin._log_z_cache = None
        return twin

    def _unnormalized_log_density(self, v: Tensor) -> Tensor:
        units, offset = self._units_from_density(v)
        return -self.free_energy(units) + offset

    @torch.no_grad()
    def log_likelihood(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """``log p(v) = -F(units(v)) - log Z + offset`` with the AIS ``log Z`` (an estimate)."""
        return self._unnormalized_log_density(x) - self.log_z(generator).log_z

    @property
    def cell_constant(self) -> bool:  # type: ignore[override]
        """Binomial and Bernoulli visibles put one probability on each level's cell; gaussian ones do not."""
        return self.units.discrete

    def _discrete_units(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Data-space ``x`` -> (units, offset) with ``log P(k) = -F(units) - log Z + offset``."""
        levels = self.info.levels
        units, offset = self._units_from_density(dequantize(x, levels, None))
        return units, offset - (0.0 if levels is None else self.dim * math.log(levels))

    @torch.no_grad()
    def discrete_log_prob_bounds(self, x: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor] | None:
        """``(RAISE, AIS)`` per-sample bounds on ``log P(k)`` in nats (float64), both stochastic.

        Lower: RAISE (Burda et al. 2015, :func:`.ais.raise_log_prob`), ``raise_chains`` reverse
        chains per vector over ``raise_betas`` temperatures. Upper: ``-F - log Zhat`` with the
        cached AIS ``log Z`` (an underestimate in expectation). None for gaussian visibles on
        discrete data, whose ``P(k)`` is a cell integral that neither side bounds.
        """
        if self.info.levels is not None and not self.cell_constant:
            return None
        units, offset = self._discrete_units(x)
        log_z = self.log_z(generator).log_z
        upper = -self.free_energy(units).double() - log_z + offset.double()
        cfg = self.config
        lower = raise_log_prob(self, units, cfg.raise_betas, cfg.raise_chains, generator, cfg.ais_schedule) + offset.double()
        return lower, upper

    @torch.no_grad()
    def anomaly_score(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """The negative log-likelihood up to the constant ``log Z`` (no AIS needed)."""
        return -self._unnormalized_log_density(x)

    def evaluation_extras(self) -> dict[str, float]:
        est = self.log_z(torch.Generator(device=self.device).manual_seed(0))
        extras = {"log_z": est.log_z, "log_z_stderr": est.stderr, "log_z_lower_bound": self.log_z_lower_bound(est.states)}
        extras |= {"log_z_ess": est.ess, "log_z_chains": float(est.chains)}
        if self.n_hidden <= MAX_EXACT_HIDDEN:
            extras["log_z_exact"] = self.exact_log_z().log_z
        return extras

    # -- the AIS interface (ais.Annealable) -------------------------------------------------
    def _base(self) -> tuple[Tensor, Tensor]:
        """Base model from the data marginals: binomial logits (unit "stds"), or gaussian means and stds."""
        return self.units.base(float(self.stat_count), self.stat_sum, self.stat_sq, self.vbias, self.log_std)

    def ais_base_log_z(self) -> Tensor:
        loc, scale = self._base()
        free_hidden = self.n_hidden * math.log(2.0)
        return self.units.base_log_z(loc, scale) + free_hidden

    def ais_base_sample(self, m: int, generator: torch.Generator) -> Tensor:
        loc, scale = self._base()
        return self.units.base_sample(loc, scale, m, generator)

    def ais_terms(self, v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        loc, scale = self._base()
        base, model = self.units.path_terms(v, loc, scale, self.vbias, self.log_std)
        return base, model, self.hidden_input(v)

    def ais_transition(self, v: Tensor, hidden_input: Tensor, beta: float, generator: torch.Generator) -> Tensor:
        h = draw_bernoulli(torch.sigmoid(beta * hidden_input), generator)
        loc, scale = self._base()
        a = self.vbias + h @ self.weight.T
        return self.units.tempered_draw(a, loc, scale, self.log_std, beta, generator)

    def log_z_given_hidden(self, h: Tensor) -> Tensor:
        a = self.vbias + h @ self.weight.T
        return self.units.log_z_given_hidden(h @ self.hbias, a, self.vbias, self.log_std)
