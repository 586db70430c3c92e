"""The ``independent`` baseline: every dimension on its own, the floor a likelihood model must beat.

For data with ``K`` discrete levels, one categorical per dimension with additive (Lidstone)
smoothing ``alpha``:

    P_d(k) = (n_d(k) + alpha) / (n + K alpha),

and, under the project's dequantization convention (uniform within each level's cell of
width 1/K), the density ``p(v) = prod_d K P_d(k_d)``; its bits per dimension are then exactly
the discrete NLL ``-(1/D) sum_d log2 P_d(k_d)``. For continuous data, one Gaussian per
dimension (the maximum-likelihood mean and standard deviation).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from genmodels.data.base import DatasetInfo
from genmodels.models.core.dequantize import dequantize
from genmodels.models.core.direct import DirectFitModel
from genmodels.models.core.registry import register_model
from genmodels.models.independent.config import IndependentConfig

LOG_2PI = math.log(2 * math.pi)


@register_model("independent")
class Independent(DirectFitModel):
    config_cls = IndependentConfig
    likelihood_kind = "exact"
    cell_constant = True

    def __init__(self, config: IndependentConfig, info: DatasetInfo) -> None:
        super().__init__(config, info)
        self.dim = math.prod(self.data_shape)
        self.levels = info.levels
        f64 = torch.float64
        if self.levels is not None:
            self.register_buffer("log_probs", torch.full((self.dim, self.levels), -math.log(self.levels), dtype=f64))
        else:
            self.register_buffer("mean", torch.zeros(self.dim, dtype=f64))
            self.register_buffer("std", torch.ones(self.dim, dtype=f64))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    def _level_index(self, x: Tensor) -> Tensor:
        """Level indices ``k`` (n, D) of data-space values ``k / (K - 1)``."""
        return torch.round(self._flat(x) * (self.levels - 1)).clamp(0, self.levels - 1).long()

    def fit_direct(self, x: Tensor, y: Tensor | None, generator: torch.Generator) -> dict[str, float]:
        """Counts per dimension and level (or per-dimension moments), in closed form."""
        if self.levels is None:
            v = self._flat(x)
            self.mean.copy_(v.mean(0))
            self.std.copy_(v.std(0, correction=0).clamp_min(self.config.min_std))
        else:
            k = self._level_index(x)
            counts = torch.zeros(self.dim, self.levels, dtype=torch.float64, device=self.device)
            counts.scatter_add_(1, k.T.contiguous(), torch.ones_like(k.T, dtype=torch.float64))
            probs = (counts + self.config.alpha) / (len(x) + self.levels * self.config.alpha)
            self.log_probs.copy_(probs.log())
        self.fitted.fill_(True)
        ll = self.log_likelihood(dequantize(x, self.levels, None), generator)
        return {"train_mean_log_likelihood": float(ll.mean())}

    @torch.no_grad()
    def log_likelihood(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """Exact log-density in nats at ``x`` in density space (dequantized data for discrete levels)."""
        self._check_fitted()
        if self.levels is None:
            z = (self._flat(x) - self.mean) / self.std
            ll = (-0.5 * z * z - self.std.log() - 0.5 * LOG_2PI).sum(1)
        else:
            k = torch.floor(self._flat(x) * self.levels).clamp(0, self.levels - 1).long()  # the cell of v = (k + u) / K
            ll = (self.log_probs.gather(1, k.T).T + math.log(self.levels)).sum(1)
        return ll.to(x.dtype)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator, temperature: float = 1.0) -> Tensor:
        """Each dimension drawn on its own: a level from ``softmax(log P_d / T)`` (or ``mu_d + T sigma_d z``)."""
        self._check_fitted()
        if temperature <= 0:
            raise ValueError(f"independent: temperature must be > 0, got {temperature}")
        if self.levels is None:
            z = torch.randn(n, self.dim, generator=generator, device=self.device, dtype=torch.float64)
            v = self.mean + temperature * self.std * z
        else:
            probs = torch.softmax(self.log_probs / temperature, dim=1)
            k = torch.multinomial(probs, n, replacement=True, generator=generator).T  # (n, D)
            v = k.to(torch.float64) / (self.levels - 1)
        return v.to(torch.float32).view(n, *self.data_shape)
