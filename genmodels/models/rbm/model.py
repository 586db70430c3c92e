"""Restricted Boltzmann machine (Smolensky 1986; Hinton 2002) trained by CD-k or PCD.

Hidden units are Bernoulli; the visible units are one of

* ``binomial`` with ``N = K - 1`` trials for data with ``K`` levels (the exponential-family
  harmonium of Welling et al. 2005; N = 1 is the Bernoulli RBM):
  ``-E(v, h) = b.v + c.h + v'Wh + sum_i log C(N, v_i)``, ``v_i in {0..N}``, so
  ``p(v_i | h) = Binomial(N, sigmoid(b_i + W_i h))``. Its probability ``P(k)`` of the
  discrete levels gives the density ``log p(v) = log P(k) + D log K`` of dequantized data
  (:mod:`genmodels.models.core.dequantize`), exactly comparable with the other families.
* ``bernoulli``: the same with ``N = 1`` on images binarized at 0.5; ``P(k)`` spreads the
  probability of each binary value evenly over the levels that binarize to it.
* ``gaussian`` (Cho et al. 2011): ``E(v, h) = sum_i (v_i - b_i)^2 / 2 s_i^2 - c.h - sum_ij
  v_i W_ij h_j / s_i^2``, so ``p(v | h) = N(b + Wh, diag s^2)``, with the standard deviations
  ``s`` learned (log-parametrised) or fixed. On images it models the dequantized ``v``; its
  density on R^D integrates to at most 1 over [0, 1]^D, so the bits/dim stay an upper bound.

Training minimises the surrogate ``mean F(v_data) - mean F(v_neg)`` with the negatives
detached (``F`` the free energy): its gradient is the CD-k (Hinton 2002) or, with
persistent chains, the PCD (Tieleman 2008) estimate of the negative log-likelihood gradient.
``log_likelihood`` is ``-F(v) - log Z`` with ``log Z`` from AIS (:mod:`.rbm_ais`), cached
until the parameters change. Samples come from block Gibbs chains (see :meth:`RBM.sample`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from genmodels.configbase import StrictModel
from genmodels.data.base import DatasetInfo
from genmodels.models.core.base import GenerativeModel
from genmodels.models.core.dequantize import dequantize, quantize_back
from genmodels.models.rbm.ais import MAX_EXACT_HIDDEN, LogZEstimate, ais_log_z, exact_log_z, hidden_subset_log_z
from genmodels.models.core.registry import register_model

LOG_2PI = math.log(2 * math.pi)
_COUNT_TRIALS_LIMIT = 1 << 22  # binomial draws by counting uniforms up to this many trials per call


def draw_bernoulli(p: Tensor, generator: torch.Generator) -> Tensor:
    """``Bernoulli(p)`` draws as ``u < p`` (several times faster than ``torch.bernoulli`` on CPU)."""
    return (torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype) < p).to(p.dtype)


class RBMConfig(StrictModel):
    visible: Literal["auto", "bernoulli", "binomial", "gaussian"] = "auto"  # auto: binomial for images, gaussian for points
    hidden: int = Field(256, ge=1)  # number of Bernoulli hidden units
    method: Literal["cd", "pcd"] = "pcd"  # negative phase: chains from the data (CD) or persistent chains (PCD)
    k: int = Field(1, ge=1)  # Gibbs sweeps per update (the k of CD-k / PCD-k)
    pcd_chains: int = Field(256, ge=1)  # persistent chains (method pcd)
    init_std: float = Field(0.01, gt=0.0)  # std of the initial weights (Hinton's practical guide)
    # initial (or fixed) std of gaussian visibles; small, so the hidden units must explain the
    # spread (from 1.0 on toy2d the std grows to the data's and the weights stay near 0)
    gaussian_std: float = Field(0.1, gt=0.0)
    learn_std: bool = True  # learn the gaussian visible stds (else keep gaussian_std)
    min_std: float = Field(0.01, gt=0.0)  # floor of the gaussian visible stds
    burn_in: int = Field(100, ge=1)  # Gibbs sweeps before the first sample of a chain
    thin: int = Field(20, ge=1)  # Gibbs sweeps between successive samples of one chain
    sample_chains: int | None = Field(None, ge=1)  # parallel chains per sample() call (None: one chain per sample)
    # chain starts: the final PCD chains (cycled; marginals when there are none), independent
    # draws from the data marginals, or uniform noise (see RBM.sample)
    sample_init: Literal["persistent", "marginals", "random"] = "persistent"
    sample_output: Literal["auto", "mean", "sample"] = "auto"  # last step: E[v|h] (auto for images) or a draw (auto for points)
    ais_chains: int = Field(100, ge=2)  # AIS importance-sampling chains (M)
    ais_betas: int = Field(5000, ge=2)  # AIS inverse temperatures, linear on [0, 1]


@register_model("rbm")
class RBM(GenerativeModel):
    config_cls = RBMConfig
    likelihood_kind = "estimate"

    def __init__(self, config: RBMConfig, info: DatasetInfo) -> None:
        super().__init__(config, info)
        kind = config.visible
        if kind == "auto":
            kind = "binomial" if info.levels is not None else "gaussian"
        if kind in ("binomial", "bernoulli") and info.levels is None:
            raise ValueError(f"rbm.visible={kind} needs discrete data (levels), but {info.name!r} is continuous: use gaussian")
        if info.levels is not None and info.levels < 2:
            raise ValueError(f"rbm needs at least 2 levels per dimension, got {info.levels}")
        self.visible = kind
        self.trials = {"binomial": (info.levels or 2) - 1, "bernoulli": 1, "gaussian": 0}[kind]
        self.dim = math.prod(self.data_shape)
        self.n_hidden = config.hidden
        d, h = self.dim, config.hidden
        self.weight = nn.Parameter(torch.randn(d, h) * config.init_std)
        self.vbias = nn.Parameter(torch.zeros(d))
        self.hbias = nn.Parameter(torch.zeros(h))
        log_std = torch.full((d,), math.log(config.gaussian_std))
        if kind == "gaussian" and config.learn_std:
            self.log_std = nn.Parameter(log_std)
        else:
            self.register_buffer("log_std", log_std)
        # running sums of the training data in unit space: the AIS base model and "marginals" starts
        self.register_buffer("stat_count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("stat_sum", torch.zeros(d, dtype=torch.float64))
        self.register_buffer("stat_sq", torch.zeros(d, dtype=torch.float64))
        self.register_buffer("chains", torch.zeros(config.pcd_chains if config.method == "pcd" else 0, d))
        self.register_buffer("chains_ready", torch.zeros((), dtype=torch.bool))
        self._log_z_cache: tuple[tuple[int, ...], LogZEstimate] | None = None

    # -- data <-> visible units ---------------------------------------------------------
    def _bernoulli_level_counts(self) -> tuple[int, int]:
        """How many of the K levels binarize to 0 and to 1 (``k / (K - 1) >= 0.5``)."""
        levels = self.info.levels or 2
        return math.ceil((levels - 1) / 2), levels - math.ceil((levels - 1) / 2)

    def units_from_data(self, x: Tensor) -> Tensor:
        """Data-space values ``k/(K-1)`` (or raw points) -> visible units ``(n, D)``."""
        x = x.reshape(len(x), -1)
        if self.visible == "binomial":
            return torch.round(x * self.trials)
        if self.visible == "bernoulli":
            return (x >= 0.5).to(x.dtype)
        return x

    def _units_from_density(self, v: Tensor) -> tuple[Tensor, Tensor]:
        """Density-space ``v`` -> (units, log-density offset): ``log p(v) = -F - log Z + offset``."""
        v = v.reshape(len(v), -1)
        levels = self.info.levels
        if self.visible == "gaussian" or levels is None:
            return v, torch.zeros(len(v), device=v.device, dtype=v.dtype)
        k = torch.floor(v * levels).clamp(0, levels - 1)
        offset = torch.full((len(v),), self.dim * math.log(levels), device=v.device, dtype=v.dtype)
        if self.visible == "binomial":
            return k, offset
        b = (k / (levels - 1) >= 0.5).to(v.dtype)
        zeros, ones = self._bernoulli_level_counts()
        return b, offset - (b * math.log(ones) + (1 - b) * math.log(zeros)).sum(1)

    # -- energy and conditionals ---------------------------------------------------------
    def std(self) -> Tensor:
        return self.log_std.exp().clamp_min(self.config.min_std)

    def hidden_input(self, v: Tensor) -> Tensor:
        """``c + W'v`` (binomial) or ``c + W'(v / s^2)`` (gaussian)."""
        if self.visible == "gaussian":
            v = v / self.std() ** 2
        return self.hbias + v @ self.weight

    def log_base_measure(self, v: Tensor) -> Tensor:
        """``sum_i log C(N, v_i)`` of binomial units (0 for N = 1 and for gaussian units)."""
        if self.trials <= 1:
            return torch.zeros(len(v), device=v.device, dtype=v.dtype)
        n = float(self.trials)
        return (math.lgamma(n + 1) - torch.lgamma(v + 1) - torch.lgamma(n - v + 1)).sum(1)

    def free_energy(self, v: Tensor) -> Tensor:
        """``F(v) = -log sum_h exp(-E(v, h))`` per row of visible units."""
        hidden = F.softplus(self.hidden_input(v)).sum(1)
        if self.visible == "gaussian":
            return (((v - self.vbias) / self.std()) ** 2).sum(1) / 2 - hidden
        return -(v @ self.vbias) - self.log_base_measure(v) - hidden

    def sample_hidden(self, v: Tensor, beta: float, generator: torch.Generator) -> Tensor:
        return draw_bernoulli(torch.sigmoid(beta * self.hidden_input(v)), generator)

    def visible_mean(self, h: Tensor, beta: float = 1.0) -> Tensor:
        """Binomial: the success probability ``sigmoid(beta (b + Wh))``; gaussian: ``b + Wh``."""
        a = self.vbias + h @ self.weight.T
        return a if self.visible == "gaussian" else torch.sigmoid(beta * a)

    def sample_visible(self, h: Tensor, beta: float, generator: torch.Generator) -> Tensor:
        """Draw ``v ~ p(v | h)`` at inverse temperature ``beta`` (the binomial base measure is not tempered)."""
        mean = self.visible_mean(h, beta)
        if self.visible == "gaussian":
            return mean + self.std() / math.sqrt(beta) * torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return self._draw_binomial(mean, generator)

    def _draw_binomial(self, p: Tensor, generator: torch.Generator) -> Tensor:
        if self.trials == 1:
            return draw_bernoulli(p, generator)
        if p.numel() * self.trials <= _COUNT_TRIALS_LIMIT:  # counting uniforms below p beats torch.binomial
            u = torch.rand((*p.shape, self.trials), generator=generator, device=p.device, dtype=p.dtype)
            return (u < p.unsqueeze(-1)).sum(-1).to(p.dtype)
        return torch.binomial(torch.full_like(p, float(self.trials)), p, generator=generator)

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
        if self.visible == "gaussian" and self.info.levels is not None:
            x = dequantize(x, self.info.levels, generator)
        v = self.units_from_data(x)
        self._record_statistics(v)
        if self.config.method == "pcd":
            if not bool(self.chains_ready):
                idx = torch.arange(len(self.chains), device=v.device) % len(v)
                self.chains.copy_(v[idx])
                self.chains_ready.fill_(True)
            negatives = self.gibbs(self.chains, self.config.k, generator)
            self.chains.copy_(negatives)
        else:
            negatives = self.gibbs(v, self.config.k, generator)
        yield "model", self.free_energy(v).mean() - self.free_energy(negatives.detach()).mean()

    # -- generation -----------------------------------------------------------------------
    def _chain_starts(self, m: int, generator: torch.Generator) -> Tensor:
        init = self.config.sample_init
        if init == "persistent" and len(self.chains) and bool(self.chains_ready):
            return self.chains[torch.arange(m, device=self.chains.device) % len(self.chains)].clone()
        if init != "random":
            return self.ais_base_sample(m, generator).to(self.weight.dtype)
        if self.visible == "gaussian":
            noise = torch.randn((m, self.dim), generator=generator, device=self.device)
            return self.vbias.detach() + self.std().detach() * noise
        return self._draw_binomial(torch.full((m, self.dim), 0.5, device=self.device), generator)

    def _output(self, h: Tensor, beta: float, generator: torch.Generator) -> Tensor:
        """The sample returned for the last hidden state: ``E[v|h]`` or a draw, in data space."""
        mode = self.config.sample_output
        if mode == "auto":
            mode = "mean" if self.info.kind == "image" else "sample"
        if mode == "mean":
            v = self.visible_mean(h, beta)  # binomial: E[v/N | h] = p, already in [0, 1]
        else:
            v = self.sample_visible(h, beta, generator)
            v = v / self.trials if self.trials > 0 else v
        if self.visible == "gaussian" and self.info.levels is not None:
            v = quantize_back(v, self.info.levels)
        return v

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator, temperature: float = 1.0) -> Tensor:
        """Block Gibbs from ``sample_chains`` chains: ``burn_in`` sweeps, then one sample every ``thin``.

        The sampler runs at inverse temperature ``1 / temperature``. Images are the mean of
        ``p(v | h)`` at the last sweep (``sample_output``): cleaner than a binomial draw.

        Starts (``sample_init``): by default the persistent chains left by PCD training, as in
        Tieleman (2008) and the short-run samplers of energy-based models (Nijkamp et al.
        2019). These chains track the data as training moves the energy surface; a frozen
        RBM mixes slowly between modes, so chains run for thousands of sweeps from the
        marginals drift toward the model's own stationary distribution, which for RBMs
        trained briefly on digits over-weights a few classes. Use ``marginals`` with a long
        ``burn_in`` to sample that distribution instead.
        """
        if n < 1:
            raise ValueError(f"number of samples must be positive, got {n}")
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        beta = 1.0 / temperature
        chains = min(n, self.config.sample_chains or n)
        v = self._chain_starts(chains, generator)
        out: list[Tensor] = []
        for i in range(math.ceil(n / chains)):
            v = self.gibbs(v, (self.config.burn_in if i == 0 else self.config.thin) - 1, generator, beta)
            h = self.sample_hidden(v, beta, generator)
            out.append(self._output(h, beta, generator))
            v = self.sample_visible(h, beta, generator)
        return torch.cat(out)[:n].reshape(n, *self.data_shape).float()

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
            est = ais_log_z(self, self.config.ais_betas, self.config.ais_chains, generator)
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

    @torch.no_grad()
    def anomaly_score(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """The negative log-likelihood up to the constant ``log Z`` (no AIS needed)."""
        return -self._unnormalized_log_density(x)

    def evaluation_extras(self) -> dict[str, float]:
        est = self.log_z(torch.Generator(device=self.device).manual_seed(0))
        extras = {"log_z": est.log_z, "log_z_stderr": est.stderr, "log_z_lower_bound": self.log_z_lower_bound(est.states)}
        if self.n_hidden <= MAX_EXACT_HIDDEN:
            extras["log_z_exact"] = self.exact_log_z().log_z
        return extras

    # -- the AIS interface (rbm_ais.Annealable) ----------------------------------------
    def _base(self) -> tuple[Tensor, Tensor]:
        """Base model from the data marginals: binomial logits (unit "stds"), or gaussian means and stds."""
        count = float(self.stat_count)
        dtype = self.weight.dtype
        if self.visible == "gaussian":
            if count < 2:
                return self.vbias.detach(), self.std().detach()
            mean = self.stat_sum / count
            data_std = (self.stat_sq / count - mean**2).clamp_min(0.0).sqrt().to(dtype)
            # never narrower than the model's own noise: a base narrower than p(v|h) makes
            # the path change abruptly near beta = 1 (AIS error 0.4 nat vs 0.002 on digits)
            return mean.to(dtype), torch.maximum(data_std, self.std().detach())
        if count < 1:
            return self.vbias.detach(), torch.ones_like(self.vbias)
        rate = (self.stat_sum + 0.5) / (count * self.trials + 1.0)  # smoothed base rate per trial
        return torch.logit(rate).to(dtype), torch.ones_like(self.vbias)

    def ais_base_log_z(self) -> Tensor:
        loc, scale = self._base()
        free_hidden = self.n_hidden * math.log(2.0)
        if self.visible == "gaussian":
            return (torch.log(scale) + LOG_2PI / 2).sum() + free_hidden
        return self.trials * F.softplus(loc).sum() + free_hidden

    def ais_base_sample(self, m: int, generator: torch.Generator) -> Tensor:
        loc, scale = self._base()
        if self.visible == "gaussian":
            return loc + scale * torch.randn((m, self.dim), generator=generator, device=loc.device, dtype=loc.dtype)
        return self._draw_binomial(torch.sigmoid(loc).expand(m, -1).contiguous(), generator)

    def ais_terms(self, v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        loc, scale = self._base()
        if self.visible == "gaussian":
            base = -(((v - loc) / scale) ** 2).sum(1) / 2
            model = -(((v - self.vbias) / self.std()) ** 2).sum(1) / 2
        else:
            base, model = v @ loc, v @ self.vbias
        return base, model, self.hidden_input(v)

    def ais_transition(self, v: Tensor, hidden_input: Tensor, beta: float, generator: torch.Generator) -> Tensor:
        h = draw_bernoulli(torch.sigmoid(beta * hidden_input), generator)
        loc, scale = self._base()
        a = self.vbias + h @ self.weight.T
        if self.visible == "gaussian":
            var = self.std() ** 2
            precision = (1 - beta) / scale**2 + beta / var
            mean = ((1 - beta) * loc / scale**2 + beta * a / var) / precision
            return mean + torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype) / precision.sqrt()
        return self._draw_binomial(torch.sigmoid((1 - beta) * loc + beta * a), generator)

    def log_z_given_hidden(self, h: Tensor) -> Tensor:
        a = self.vbias + h @ self.weight.T
        if self.visible == "gaussian":
            var = self.std() ** 2
            return h @ self.hbias + ((a**2 - self.vbias**2) / (2 * var)).sum(1) + (torch.log(var) + LOG_2PI).sum() / 2
        return h @ self.hbias + self.trials * F.softplus(a).sum(1)
