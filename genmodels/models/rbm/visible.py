"""Visible units of an RBM as strategy objects, one class per ``RBMConfig.visible`` type.

The RBM (:mod:`genmodels.models.rbm.model`) owns the parameters ``W``, ``b``, ``c`` and
``log s`` and the Bernoulli hidden layer; a :class:`VisibleUnits` holds only constants of its
type (trials, levels, std floor) and maps tensors to tensors, so an RBM and its float64 twin
share one. With ``a = b + W h`` the input of the visible layer from the hidden one:

* :class:`BinomialUnits`: ``N`` trials per unit, the exponential-family harmonium of Welling
  et al. (2005): ``-E(v, h) = b.v + c.h + v'Wh + sum_i log C(N, v_i)``, so
  ``p(v_i | h) = Binomial(N, sigmoid(a_i))``.
* :class:`BernoulliUnits`: ``N = 1`` on data binarized at 0.5 (Hinton 2002; Hinton 2010,
  "A practical guide to training RBMs").
* :class:`GaussianUnits` (Cho et al. 2011; Hinton 2010, sec. 13.2): ``E(v, h) = sum_i
  (v_i - b_i)^2 / 2 s_i^2 - c.h - sum_ij v_i W_ij h_j / s_i^2``, so ``p(v | h) = N(a, diag s^2)``.

The free energy is ``F(v) = visible_energy(v) - sum_j softplus(c_j + (W' drive(v))_j)``
(:meth:`VisibleUnits.visible_energy`, :meth:`VisibleUnits.hidden_drive`). The AIS pieces
(:meth:`VisibleUnits.base` and after) implement :mod:`genmodels.models.rbm.ais`'s path for
this visible type: a base model without interactions fitted to the data marginals.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from genmodels.models.core.dequantize import dequantize, quantize_back

LOG_2PI = math.log(2 * math.pi)


def draw_bernoulli(p: Tensor, generator: torch.Generator) -> Tensor:
    """``Bernoulli(p)`` draws as ``u < p`` (several times faster than ``torch.bernoulli`` on CPU)."""
    return (torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype) < p).to(p.dtype)


class VisibleUnits(ABC):
    """The visible-type-specific half of an RBM. Units are rows ``(n, D)``; ``log_std`` is the
    RBM's ``log s`` (used by Gaussian units only)."""

    #: Binomial trials per unit ``N`` (0 for real-valued units).
    trials: int = 0
    #: Whether the type needs discrete data (``DatasetInfo.levels``).
    discrete: ClassVar[bool] = True
    #: Whether the type has standard deviations that can be learned.
    has_std: ClassVar[bool] = False

    @classmethod
    @abstractmethod
    def for_data(cls, levels: int | None, min_std: float) -> VisibleUnits:
        """The units for data with ``levels`` discrete values (None: continuous); ``min_std``: std floor."""

    # -- data <-> units ---------------------------------------------------------------------
    @abstractmethod
    def units_from_data(self, x: Tensor) -> Tensor:
        """Data-space values ``k/(K-1)`` (or raw points), flattened ``(n, D)`` -> units."""

    def training_units(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """The units a training batch ``(n, D)`` is modelled as."""
        return self.units_from_data(x)

    @abstractmethod
    def units_from_density(self, v: Tensor) -> tuple[Tensor, Tensor]:
        """Density-space ``v`` ``(n, D)`` -> (units, log-density offset): ``log p(v) = -F - log Z + offset``."""

    @abstractmethod
    def mean_to_data(self, mean: Tensor) -> Tensor:
        """:meth:`mean` of ``p(v | h)`` -> data space."""

    @abstractmethod
    def units_to_data(self, v: Tensor) -> Tensor:
        """Drawn units -> data space."""

    # -- energy and conditionals ----------------------------------------------------------
    @abstractmethod
    def hidden_drive(self, v: Tensor, log_std: Tensor) -> Tensor:
        """What ``W'`` multiplies in the hidden input ``c + W' drive(v)``."""

    @abstractmethod
    def visible_energy(self, v: Tensor, vbias: Tensor, log_std: Tensor) -> Tensor:
        """The visible units' own term of the free energy ``F(v)``, per row."""

    @abstractmethod
    def mean(self, a: Tensor, beta: float) -> Tensor:
        """Mean parameter of ``p(v | h)`` at inverse temperature ``beta`` from ``a = b + Wh``."""

    @abstractmethod
    def draw(self, mean: Tensor, log_std: Tensor, beta: float, generator: torch.Generator) -> Tensor:
        """``v ~ p(v | h)`` at inverse temperature ``beta`` given its :meth:`mean`."""

    @abstractmethod
    def noise_start(self, m: int, vbias: Tensor, log_std: Tensor, generator: torch.Generator) -> Tensor:
        """``m`` chain starts of uninformed noise."""

    # -- AIS (rbm.ais.Annealable) ---------------------------------------------------------
    @abstractmethod
    def base(self, count: float, total: Tensor, total_sq: Tensor, vbias: Tensor, log_std: Tensor) -> tuple[Tensor, Tensor]:
        """Base model ``(loc, scale)`` from the data's unit count, sum and sum of squares."""

    @abstractmethod
    def base_log_z(self, loc: Tensor, scale: Tensor) -> Tensor:
        """The visible part of the base model's ``log Z_0``."""

    @abstractmethod
    def base_sample(self, loc: Tensor, scale: Tensor, m: int, generator: torch.Generator) -> Tensor:
        """``m`` independent draws ``(m, D)`` from the base model."""

    @abstractmethod
    def path_terms(self, v: Tensor, loc: Tensor, scale: Tensor, vbias: Tensor, log_std: Tensor) -> tuple[Tensor, Tensor]:
        """``(base(v), model(v))``: the tempered visible terms of the AIS path."""

    @abstractmethod
    def tempered_draw(self, a: Tensor, loc: Tensor, scale: Tensor, log_std: Tensor, beta: float, generator: torch.Generator) -> Tensor:
        """``v ~ p_beta(v | h)`` on the path, from the model's ``a = b + Wh``."""

    @abstractmethod
    def log_z_given_hidden(self, hidden_term: Tensor, a: Tensor, vbias: Tensor, log_std: Tensor) -> Tensor:
        """``log sum_v exp(-E(v, h))`` per row, from ``hidden_term = c.h`` and ``a = b + Wh``."""


class BinomialUnits(VisibleUnits):
    """``N = K - 1`` trials for data with ``K`` levels (Welling et al. 2005); units ``v_i in {0..N}``."""

    def __init__(self, levels: int, trials: int) -> None:
        self.levels = levels
        self.trials = trials

    @classmethod
    def for_data(cls, levels: int | None, min_std: float) -> BinomialUnits:
        return cls(levels or 2, (levels or 2) - 1)

    def units_from_data(self, x: Tensor) -> Tensor:
        return torch.round(x * self.trials)

    def _cells(self, v: Tensor) -> tuple[Tensor, Tensor]:
        """Level index ``k = floor(K v)`` of each dequantized value, and the ``D log K`` offset."""
        k = torch.floor(v * self.levels).clamp(0, self.levels - 1)
        return k, torch.full((len(v),), v.shape[1] * math.log(self.levels), device=v.device, dtype=v.dtype)

    def units_from_density(self, v: Tensor) -> tuple[Tensor, Tensor]:
        """``log p(v) = log P(k) + D log K``: the level probability spread evenly over its cell."""
        return self._cells(v)

    def mean_to_data(self, mean: Tensor) -> Tensor:
        return mean  # E[v/N | h] = p, already in [0, 1]

    def units_to_data(self, v: Tensor) -> Tensor:
        return v / self.trials

    def log_base_measure(self, v: Tensor) -> Tensor:
        """``sum_i log C(N, v_i)`` (0 for N = 1); a table lookup for whole counts, ``lgamma`` otherwise."""
        if self.trials <= 1:
            return torch.zeros(len(v), device=v.device, dtype=v.dtype)
        n = float(self.trials)
        counts = v.long()
        if bool(((counts == v) & (counts >= 0) & (counts <= self.trials)).all()):
            k = torch.arange(self.trials + 1, device=v.device, dtype=v.dtype)
            table = math.lgamma(n + 1) - torch.lgamma(k + 1) - torch.lgamma(n - k + 1)
            return table[counts].sum(1)
        return (math.lgamma(n + 1) - torch.lgamma(v + 1) - torch.lgamma(n - v + 1)).sum(1)

    def draw_counts(self, p: Tensor, generator: torch.Generator) -> Tensor:
        """``Binomial(N, p)`` draws: Bernoulli for N = 1, else by inverting the CDF with one uniform per unit.

        With ``q = min(p, 1 - p)`` the probabilities ``P(k) = P(k - 1) (N - k + 1) / k * q / (1 - q)``
        from ``P(0) = (1 - q)^N >= 2^-N`` accumulate into the CDF, and the draw is the number of
        CDF values below the uniform (reflected to ``N - k`` where ``p > 1/2``): one random number
        per unit instead of ``N``, and no underflow.
        """
        if self.trials == 1:
            return draw_bernoulli(p, generator)
        flip = p > 0.5
        q = torch.where(flip, 1 - p, p)
        odds = q / (1 - q)
        u = torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype)
        pmf = (1 - q) ** self.trials
        cdf = pmf.clone()
        count = torch.zeros_like(p)
        for k in range(1, self.trials + 1):
            count += u > cdf
            pmf = pmf * odds * ((self.trials - k + 1) / k)
            cdf = cdf + pmf
        return torch.where(flip, self.trials - count, count)

    def hidden_drive(self, v: Tensor, log_std: Tensor) -> Tensor:
        return v

    def visible_energy(self, v: Tensor, vbias: Tensor, log_std: Tensor) -> Tensor:
        """``-b.v - sum_i log C(N, v_i)``."""
        return -(v @ vbias) - self.log_base_measure(v)

    def mean(self, a: Tensor, beta: float) -> Tensor:
        """The success probability ``sigmoid(beta a)`` (the base measure is not tempered)."""
        return torch.sigmoid(beta * a)

    def draw(self, mean: Tensor, log_std: Tensor, beta: float, generator: torch.Generator) -> Tensor:
        return self.draw_counts(mean, generator)

    def noise_start(self, m: int, vbias: Tensor, log_std: Tensor, generator: torch.Generator) -> Tensor:
        """``Binomial(N, 1/2)`` draws."""
        return self.draw_counts(torch.full((m, len(vbias)), 0.5, device=vbias.device), generator)

    def base(self, count: float, total: Tensor, total_sq: Tensor, vbias: Tensor, log_std: Tensor) -> tuple[Tensor, Tensor]:
        """Logits of the smoothed per-trial rate ``(sum + 1/2) / (n N + 1)`` (``b`` before any data); unit scales."""
        if count < 1:
            return vbias.detach(), torch.ones_like(vbias)
        rate = (total + 0.5) / (count * self.trials + 1.0)
        return torch.logit(rate).to(vbias.dtype), torch.ones_like(vbias)

    def base_log_z(self, loc: Tensor, scale: Tensor) -> Tensor:
        """``N sum_i softplus(loc_i)`` (the binomial theorem, base measure included)."""
        return self.trials * F.softplus(loc).sum()

    def base_sample(self, loc: Tensor, scale: Tensor, m: int, generator: torch.Generator) -> Tensor:
        return self.draw_counts(torch.sigmoid(loc).expand(m, -1).contiguous(), generator)

    def path_terms(self, v: Tensor, loc: Tensor, scale: Tensor, vbias: Tensor, log_std: Tensor) -> tuple[Tensor, Tensor]:
        return v @ loc, v @ vbias

    def tempered_draw(self, a: Tensor, loc: Tensor, scale: Tensor, log_std: Tensor, beta: float, generator: torch.Generator) -> Tensor:
        return self.draw_counts(torch.sigmoid((1 - beta) * loc + beta * a), generator)

    def log_z_given_hidden(self, hidden_term: Tensor, a: Tensor, vbias: Tensor, log_std: Tensor) -> Tensor:
        """``c.h + N sum_i softplus(a_i)``."""
        return hidden_term + self.trials * F.softplus(a).sum(1)


class BernoulliUnits(BinomialUnits):
    """``N = 1`` on data binarized at 0.5; ``P(k)`` spreads each binary value's probability
    evenly over the levels that binarize to it."""

    @classmethod
    def for_data(cls, levels: int | None, min_std: float) -> BernoulliUnits:
        return cls(levels or 2, 1)

    def units_from_data(self, x: Tensor) -> Tensor:
        return (x >= 0.5).to(x.dtype)

    def level_counts(self) -> tuple[int, int]:
        """How many of the K levels binarize to 0 and to 1 (``k / (K - 1) >= 0.5``)."""
        return math.ceil((self.levels - 1) / 2), self.levels - math.ceil((self.levels - 1) / 2)

    def units_from_density(self, v: Tensor) -> tuple[Tensor, Tensor]:
        k, offset = self._cells(v)
        b = (k / (self.levels - 1) >= 0.5).to(v.dtype)
        zeros, ones = self.level_counts()
        return b, offset - (b * math.log(ones) + (1 - b) * math.log(zeros)).sum(1)


class GaussianUnits(VisibleUnits):
    """``p(v | h) = N(b + Wh, diag s^2)`` with ``s = max(exp(log_std), min_std)`` (Cho et al. 2011).

    On discrete data it models the dequantized ``v``; its density on R^D integrates to at most
    1 over [0, 1]^D, so the bits/dim stay an upper bound.
    """

    discrete = False
    has_std = True

    def __init__(self, levels: int | None, min_std: float) -> None:
        self.levels = levels
        self.min_std = min_std

    @classmethod
    def for_data(cls, levels: int | None, min_std: float) -> GaussianUnits:
        return cls(levels, min_std)

    def std(self, log_std: Tensor) -> Tensor:
        return log_std.exp().clamp_min(self.min_std)

    def units_from_data(self, x: Tensor) -> Tensor:
        return x

    def training_units(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """Dequantized ``(k + u) / K`` for discrete data (:mod:`genmodels.models.core.dequantize`)."""
        return dequantize(x, self.levels, generator)

    def units_from_density(self, v: Tensor) -> tuple[Tensor, Tensor]:
        return v, torch.zeros(len(v), device=v.device, dtype=v.dtype)

    def mean_to_data(self, mean: Tensor) -> Tensor:
        return quantize_back(mean, self.levels)

    def units_to_data(self, v: Tensor) -> Tensor:
        return quantize_back(v, self.levels)

    def hidden_drive(self, v: Tensor, log_std: Tensor) -> Tensor:
        """``v / s^2``."""
        return v / self.std(log_std) ** 2

    def visible_energy(self, v: Tensor, vbias: Tensor, log_std: Tensor) -> Tensor:
        """``sum_i (v_i - b_i)^2 / 2 s_i^2``."""
        return (((v - vbias) / self.std(log_std)) ** 2).sum(1) / 2

    def mean(self, a: Tensor, beta: float) -> Tensor:
        """``a = b + Wh`` at every temperature (the variance scales instead)."""
        return a

    def draw(self, mean: Tensor, log_std: Tensor, beta: float, generator: torch.Generator) -> Tensor:
        """``mean + s / sqrt(beta) eps``."""
        return mean + self.std(log_std) / math.sqrt(beta) * torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)

    def noise_start(self, m: int, vbias: Tensor, log_std: Tensor, generator: torch.Generator) -> Tensor:
        """``N(b, diag s^2)`` draws."""
        noise = torch.randn((m, len(vbias)), generator=generator, device=vbias.device)
        return vbias + self.std(log_std) * noise

    def base(self, count: float, total: Tensor, total_sq: Tensor, vbias: Tensor, log_std: Tensor) -> tuple[Tensor, Tensor]:
        """The data's means and standard deviations (``b`` and ``s`` before two data points)."""
        std = self.std(log_std).detach()
        if count < 2:
            return vbias.detach(), std
        mean = total / count
        data_std = (total_sq / count - mean**2).clamp_min(0.0).sqrt().to(vbias.dtype)
        # never narrower than the model's own noise: a base narrower than p(v|h) makes
        # the path change abruptly near beta = 1 (AIS error 0.4 nat vs 0.002 on digits)
        return mean.to(vbias.dtype), torch.maximum(data_std, std)

    def base_log_z(self, loc: Tensor, scale: Tensor) -> Tensor:
        """``sum_i log(sqrt(2 pi) scale_i)``."""
        return (torch.log(scale) + LOG_2PI / 2).sum()

    def base_sample(self, loc: Tensor, scale: Tensor, m: int, generator: torch.Generator) -> Tensor:
        return loc + scale * torch.randn((m, len(loc)), generator=generator, device=loc.device, dtype=loc.dtype)

    def path_terms(self, v: Tensor, loc: Tensor, scale: Tensor, vbias: Tensor, log_std: Tensor) -> tuple[Tensor, Tensor]:
        base = -(((v - loc) / scale) ** 2).sum(1) / 2
        model = -(((v - vbias) / self.std(log_std)) ** 2).sum(1) / 2
        return base, model

    def tempered_draw(self, a: Tensor, loc: Tensor, scale: Tensor, log_std: Tensor, beta: float, generator: torch.Generator) -> Tensor:
        """The product of the tempered Gaussians: precision ``(1 - beta)/scale^2 + beta/s^2``."""
        var = self.std(log_std) ** 2
        precision = (1 - beta) / scale**2 + beta / var
        mean = ((1 - beta) * loc / scale**2 + beta * a / var) / precision
        return mean + torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype) / precision.sqrt()

    def log_z_given_hidden(self, hidden_term: Tensor, a: Tensor, vbias: Tensor, log_std: Tensor) -> Tensor:
        """``c.h + sum_i (a_i^2 - b_i^2) / 2 s_i^2 + sum_i log(sqrt(2 pi) s_i)`` (the Gaussian integral)."""
        var = self.std(log_std) ** 2
        return hidden_term + ((a**2 - vbias**2) / (2 * var)).sum(1) + (torch.log(var) + LOG_2PI).sum() / 2


#: ``RBMConfig.visible`` (``auto`` resolved) -> strategy class.
VISIBLE_UNITS: dict[str, type[VisibleUnits]] = {"bernoulli": BernoulliUnits, "binomial": BinomialUnits, "gaussian": GaussianUnits}
