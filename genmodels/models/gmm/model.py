"""Gaussian mixture model baseline, fitted by EM (Dempster, Laird & Rubin 1977).

The mixture lives in the model's density space (dequantized data in [0, 1]^D for images,
raw values for points; see :mod:`genmodels.models.core.dequantize`):

    p(v) = sum_k w_k N(v; mu_k, Sigma_k).

scikit-learn's ``GaussianMixture`` runs EM inside :meth:`GMM.fit_direct`; its parameters are
copied into buffers, and the density and the sampler are plain torch on those buffers. With
scikit-learn's precision factor ``P_k`` (``Sigma_k^-1 = P_k P_k^T``, upper triangular; a
vector of ``1 / sigma`` for diagonal covariances),

    log N(v; mu, Sigma) = -D/2 log(2 pi) + sum_d log P_dd - 1/2 ||P^T (v - mu)||^2,

and a sample is ``mu_k + T P_k^-T z`` with ``z ~ N(0, I)`` (covariance ``T^2 Sigma_k`` at
temperature ``T``, the same convention as a latent scaled by ``T``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from genmodels.data.base import DatasetInfo
from genmodels.models.core.base import LikelihoodKind
from genmodels.models.core.dequantize import dequantize, level_edges, log_normal_cell_mass, to_levels
from genmodels.models.core.direct import DirectFitModel
from genmodels.models.core.mixture import gaussian_mixture_log_density, gaussian_mixture_sample, sklearn_seed
from genmodels.models.core.registry import register_model
from genmodels.models.gmm.config import GMMConfig

_BLOCK = 1 << 22  # rows x components x dims evaluated at once by log_likelihood



@register_model("gmm")
class GMM(DirectFitModel):
    config_cls = GMMConfig
    likelihood_kind = "exact"
    density_support = "real"

    def __init__(self, config: GMMConfig, info: DatasetInfo) -> None:
        super().__init__(config, info)
        self.dim = math.prod(self.data_shape)
        k, d = config.n_components, self.dim
        f64 = torch.float64
        self.register_buffer("log_weights", torch.full((k,), -math.log(k), dtype=f64))
        self.register_buffer("means", torch.zeros(k, d, dtype=f64))
        unit = torch.eye(d, dtype=f64).expand(k, d, d).clone() if config.covariance_type == "full" else torch.ones(k, d, dtype=f64)
        self.register_buffer("prec_chol", unit)  # P_k (full) or 1 / sigma_k (diag)
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    def fit_direct(self, x: Tensor, y: Tensor | None, generator: torch.Generator) -> dict[str, float]:
        """EM on the dequantized training split (one uniform-noise draw per image)."""
        from sklearn.mixture import GaussianMixture

        cfg = self.config
        if len(x) < cfg.n_components:
            raise ValueError(f"gmm: {len(x)} training samples are fewer than n_components={cfg.n_components}")
        v = self._flat(dequantize(x, self.info.levels, generator))
        gm = GaussianMixture(
            n_components=cfg.n_components, covariance_type=cfg.covariance_type, reg_covar=cfg.reg_covar,
            n_init=cfg.n_init, max_iter=cfg.max_iter, tol=cfg.tol, random_state=sklearn_seed(generator),
        )  # fmt: skip
        gm.fit(v.cpu().numpy())
        self.set_parameters(gm.weights_, gm.means_, gm.precisions_cholesky_)
        return {"n_iter": float(gm.n_iter_), "converged": float(gm.converged_), "train_mean_log_likelihood": float(gm.lower_bound_)}

    @torch.no_grad()
    def set_parameters(self, weights: np.ndarray | Tensor, means: np.ndarray | Tensor, prec_chol: np.ndarray | Tensor) -> None:
        """Copy mixture parameters (scikit-learn's ``weights_``, ``means_``, ``precisions_cholesky_``) into the buffers."""
        as_t = lambda a: torch.as_tensor(a, dtype=torch.float64, device=self.device)  # noqa: E731
        w, mu, pc = as_t(weights), as_t(means), as_t(prec_chol)
        for name, t, buf in (("weights", w, self.log_weights), ("means", mu, self.means), ("precisions_cholesky", pc, self.prec_chol)):
            if t.shape != buf.shape:
                raise ValueError(f"gmm: {name} has shape {tuple(t.shape)}, expected {tuple(buf.shape)}")
        if (w <= 0).any() or not math.isclose(float(w.sum()), 1.0, abs_tol=1e-6):
            raise ValueError("gmm: weights must be positive and sum to 1")
        diag = torch.diagonal(pc, dim1=1, dim2=2) if pc.dim() == 3 else pc
        if (diag <= 0).any() or (pc.dim() == 3 and not torch.equal(pc, torch.triu(pc))):
            raise ValueError("gmm: precision Cholesky factors must be upper triangular with a positive diagonal")
        self.log_weights.copy_(w.log())
        self.means.copy_(mu)
        self.prec_chol.copy_(pc)
        self.fitted.fill_(True)

    @torch.no_grad()
    def log_likelihood(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """Exact log-density in nats of the mixture at ``x`` (density space)."""
        self._check_fitted()
        ll = gaussian_mixture_log_density(self._flat(x), self.log_weights, self.means, self.prec_chol)
        return ll.to(x.dtype)

    def discrete_likelihood_kind(self) -> LikelihoodKind | None:
        """Exact with diagonal covariances (CDF differences); full ones use the importance-sampling bound."""
        return "exact" if self.config.covariance_type == "diag" or self.info.levels is None else "bound"

    @torch.no_grad()
    def discrete_log_prob(self, x: Tensor, generator: torch.Generator, samples: int = 16) -> Tensor:
        """Exact ``log P(k) = log sum_c w_c prod_d [Phi((hi_d - mu_cd)/s_cd) - Phi((lo_d - mu_cd)/s_cd)]``
        for diagonal covariances, on the cells of :func:`~genmodels.models.core.dequantize.level_edges`
        (the edge cells take the tails, so the probabilities of the K^D images sum to 1)."""
        if self.config.covariance_type != "diag" or self.info.levels is None:
            return super().discrete_log_prob(x, generator, samples)
        self._check_fitted()
        lo, hi = level_edges(self._flat(x).to(torch.float64), self.info.levels)
        log_std = -self.prec_chol.log()
        rows = max(1, _BLOCK // (len(self.means) * self.dim))
        out = []
        for s in range(0, len(lo), rows):
            a, b = lo[s : s + rows, None, :], hi[s : s + rows, None, :]
            per_comp = log_normal_cell_mass(a, b, self.means[None], log_std[None]).sum(-1)
            out.append(torch.logsumexp(per_comp + self.log_weights, 1))
        return torch.cat(out)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator, temperature: float = 1.0) -> Tensor:
        """Ancestral sampling: a component by weight, then ``v = mu_k + T P_k^-T z``, then its level (images)."""
        self._check_sampling(temperature)
        v = gaussian_mixture_sample(n, self.log_weights, self.means, self.prec_chol, generator, temperature)
        v = v.to(torch.float32).view(n, *self.data_shape)
        return to_levels(v, self.info.levels)
