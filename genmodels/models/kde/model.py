"""Kernel density estimation (Rosenblatt 1956; Parzen 1962) on principal components.

A Gaussian KDE in all D dimensions of an image is hopeless (the curse of dimension), so the
density is split along an orthonormal PCA basis of the training data. With the mean ``mu``,
the eigenvectors ``U = [U_1 | U_2]`` of the training covariance (eigenvalues ``lambda``
in decreasing order), ``t = U^T (v - mu)``, the first ``d`` coordinates ``s = t[:d]``
(divided by ``sqrt(lambda[:d])`` when whitening) and the residual ``r = t[d:]``:

    p(v) = p_kde(s) * |det ds/dt| * g(r),
    p_kde(s) = 1/n sum_j N(s; s_j, h^2 I_d),                  (KDE over the training points)
    g(r) = N(r; 0, sigma^2 I_{D-d}),  sigma^2 = mean(lambda[d:])  ("isotropic": the ML noise
           variance of probabilistic PCA, Tipping & Bishop 1999), or
    g(r) = prod_i N(r_i; 0, lambda[d+i])                       ("diagonal").

``U`` is orthonormal, so ``v -> t`` has unit Jacobian; whitening adds
``-1/2 sum_{i<d} log lambda_i``. This is a proper density on R^D. With ``d = D`` (e.g. 2-D
points) and no whitening it is the plain KDE of the data (an isotropic kernel is invariant
to the rotation). The bandwidth is ``h = c * h_scott``, ``h_scott = sigma_bar n^(-1/(d+4))``
(Scott 1992, ``sigma_bar^2`` the mean variance of ``s``), with ``c`` picked from a log-spaced
grid by k-fold cross-validated likelihood. The score is exactly that of scikit-learn's
``GridSearchCV`` on ``KernelDensity`` with the same seeded ``KFold`` folds (a test checks
it), computed in torch for all candidates at once: several times faster than the tree
search at large bandwidths, and exact in the far tails, where the tree's sums underflow.
Large sets are searched on a random subset of ``m`` points; as the optimal bandwidth
shrinks like ``n^(-1/(d+4))``, the ratio ``c`` found on the subset carries over to all ``n``
points. The density and the sampler are torch on buffers.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from genmodels.data.base import DatasetInfo
from genmodels.models.core.base import LikelihoodKind
from genmodels.models.core.dequantize import dequantize, to_levels
from genmodels.models.core.direct import DirectFitModel
from genmodels.models.core.mixture import sklearn_seed
from genmodels.models.core.registry import register_model
from genmodels.models.kde.config import KDEConfig
from genmodels.models.kde.diagonal import cell_table, choose_factor, level_index, log_prob_levels

LOG_2PI = math.log(2 * math.pi)
_BLOCK = 1 << 22  # query x support pairs evaluated at once



def kept_dims(n_components: int | float, eigenvalues: np.ndarray) -> int:
    """Number of leading PCA dims: a count (capped at D) or the smallest one reaching a variance fraction."""
    dim = len(eigenvalues)
    if isinstance(n_components, int):
        return min(n_components, dim)
    share = np.cumsum(eigenvalues) / max(float(eigenvalues.sum()), 1e-300)
    return int(min(dim, np.searchsorted(share, n_components - 1e-12) + 1))


def scott_bandwidth(points: np.ndarray) -> float:
    """Scott's rule for an isotropic kernel: ``sigma_bar n^(-1/(d+4))``, sigma_bar^2 the mean variance."""
    n, d = points.shape
    return math.sqrt(float(points.var(0).mean())) * n ** (-1.0 / (d + 4))


def kde_log_density_grid(q: Tensor, support: Tensor, bandwidths: Tensor) -> Tensor:
    """log 1/n sum_j N(q; s_j, h^2 I) for every bandwidth ``h`` (G,): queries (m, d), support (n, d) -> (G, m).

    Distances are shifted by each query's nearest one, ``log sum_j exp(-(d2_j - d2_min) / 2h^2)
    - d2_min / 2h^2``, so the nearest term is exp(0) = 1 and nothing underflows to log 0.
    """
    n, d = support.shape
    hs = bandwidths.reshape(-1).tolist()
    s_sq = (support * support).sum(1)
    rows = max(1, _BLOCK // max(n, 1))
    out = torch.empty(len(hs), len(q), dtype=q.dtype, device=q.device)
    for start in range(0, len(q), rows):
        x = q[start : start + rows]
        d2 = ((x * x).sum(1, keepdim=True) - 2.0 * x @ support.T + s_sq).clamp_min(0.0)
        nearest = d2.min(1, keepdim=True).values
        rel = d2 - nearest
        buf = torch.empty_like(rel)
        for g, h in enumerate(hs):
            c = -0.5 / (h * h)
            torch.mul(rel, c, out=buf).clamp_min_(-700.0).exp_()  # no subnormal/underflow slow path; sum >= 1 anyway
            out[g, start : start + len(x)] = buf.sum(1).log() + c * nearest[:, 0]
    const = torch.tensor([-math.log(n) - 0.5 * d * (LOG_2PI + 2.0 * math.log(h)) for h in hs], dtype=q.dtype, device=q.device)
    return out + const[:, None]


def gaussian_kde_log_density(q: Tensor, support: Tensor, bandwidth: Tensor) -> Tensor:
    """log 1/n sum_j N(q; s_j, h^2 I) for one bandwidth: queries (m, d) -> (m,)."""
    return kde_log_density_grid(q, support, bandwidth.reshape(1))[0]


def cv_scores(points: Tensor, bandwidths: Tensor, folds: list[tuple[np.ndarray, np.ndarray]]) -> Tensor:
    """Held-out log-likelihood of a KDE per bandwidth: the mean over folds of each fold's total.

    The same score as scikit-learn's ``GridSearchCV(KernelDensity(), cv=folds)`` (which sums
    ``score_samples`` over the held-out fold), computed exactly and for all bandwidths at once.
    """
    total = torch.zeros(len(bandwidths), dtype=torch.float64, device=points.device)
    for train, held in folds:
        tr = torch.as_tensor(train, device=points.device)
        te = torch.as_tensor(held, device=points.device)
        total += kde_log_density_grid(points[te], points[tr], bandwidths).sum(1)
    return total / len(folds)


@register_model("kde")
class KDE(DirectFitModel):
    config_cls = KDEConfig
    likelihood_kind = "exact"
    density_support = "real"
    resizable_buffers = ("support",)

    def __init__(self, config: KDEConfig, info: DatasetInfo) -> None:
        super().__init__(config, info)
        self.dim = d = math.prod(self.data_shape)
        f64 = torch.float64
        self.register_buffer("mean", torch.zeros(d, dtype=f64))
        self.register_buffer("basis", torch.eye(d, dtype=f64))  # columns: principal directions
        self.register_buffer("eigenvalues", torch.ones(d, dtype=f64))  # variance along each direction
        self.register_buffer("support", torch.zeros(0, 1, dtype=f64))  # (n, kept dims): training points in KDE coordinates
        self.register_buffer("bandwidth", torch.ones((), dtype=f64))
        self.register_buffer("pixel_scale", torch.ones(d, dtype=f64))  # diagonal kernel: s_d (widths are bandwidth * s_d)
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    @property
    def diagonal(self) -> bool:
        """Whether the kernel is the per-pixel one of :mod:`.diagonal` (needs data on levels)."""
        kernel = self.config.kernel
        if kernel == "auto":
            kernel = "diagonal" if self.info.levels is not None else "pca"
        if kernel == "diagonal" and self.info.levels is None:
            raise ValueError("kde.kernel=diagonal needs data on discrete levels (images); use pca")
        return kernel == "diagonal"

    def discrete_likelihood_kind(self) -> LikelihoodKind | None:
        return "exact" if self.diagonal else super().discrete_likelihood_kind()

    @property
    def kept(self) -> int:
        """Number of PCA dims under the KDE (the rest is the Gaussian residual)."""
        return self.support.shape[1]

    def _scales(self) -> Tensor:
        """Per-kept-dim factor from KDE coordinates to PCA scores (sqrt(lambda) when whitening)."""
        lam = self.eigenvalues[: self.kept]
        return lam.sqrt() if self.config.whiten else torch.ones_like(lam)

    def fit_direct(self, x: Tensor, y: Tensor | None, generator: torch.Generator) -> dict[str, float]:
        """PCA of the dequantized training split, then a CV-chosen bandwidth for the KDE on the leading dims."""
        from sklearn.model_selection import KFold

        cfg = self.config
        if len(x) < max(cfg.cv_folds, 2):
            raise ValueError(f"kde: need at least cv_folds={cfg.cv_folds} training samples, got {len(x)}")
        if self.diagonal:
            return self._fit_diagonal(x, generator)
        v = self._flat(dequantize(x, self.info.levels, generator)).cpu().numpy()
        mean = v.mean(0)
        lam, vecs = np.linalg.eigh(np.cov(v, rowvar=False, bias=True).reshape(self.dim, self.dim))
        lam, vecs = lam[::-1].copy(), vecs[:, ::-1].copy()
        lam = np.maximum(lam, 1e-12 * max(float(lam[0]), 1e-300))  # a constant dimension gets a tiny, finite variance
        d = kept_dims(cfg.n_components, lam)
        scores = (v - mean) @ vecs[:, :d]
        if cfg.whiten:
            scores = scores / np.sqrt(lam[:d])
        factors = np.geomspace(cfg.bandwidth_min, cfg.bandwidth_max, cfg.n_bandwidths)
        seed = sklearn_seed(generator)
        m = len(v) if cfg.cv_max_points is None else min(len(v), cfg.cv_max_points)
        subset = scores if m == len(v) else scores[np.random.default_rng(seed).choice(len(v), m, replace=False)]
        folds = list(KFold(cfg.cv_folds, shuffle=True, random_state=seed).split(subset))
        dev = self.device
        as_t = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float64, device=dev)  # noqa: E731
        cv = cv_scores(as_t(subset), as_t(scott_bandwidth(subset) * factors), folds)
        best = int(torch.argmax(cv))  # the first maximum, like GridSearchCV
        bandwidth = float(factors[best] * scott_bandwidth(scores))
        with torch.no_grad():
            self.mean.copy_(as_t(mean))
            self.basis.copy_(as_t(vecs))
            self.eigenvalues.copy_(as_t(lam))
            self.support = as_t(scores)
            self.bandwidth.fill_(bandwidth)
            self.fitted.fill_(True)
        return {
            "bandwidth": bandwidth,
            "bandwidth_over_scott": float(factors[best]),
            "bandwidth_at_grid_edge": float(cfg.n_bandwidths > 1 and best in (0, cfg.n_bandwidths - 1)),
            "kde_dims": float(d),
            "explained_variance": float(lam[:d].sum() / lam.sum()),
            "cv_kde_mean_log_likelihood": float(cv[best] / (m / cfg.cv_folds)),
        }

    def _fit_diagonal(self, x: Tensor, generator: torch.Generator) -> dict[str, float]:
        """Kernels at the training images' cell centres, widths ``c s_d``, ``c`` by k-fold CV of the discrete likelihood."""
        from sklearn.model_selection import KFold

        cfg, levels = self.config, self.info.levels
        k = level_index(self._flat(x), levels).cpu()
        centres = (k.to(torch.float64) + 0.5) / levels
        scales = centres.std(0, correction=0).clamp_min(1.0 / levels)
        factors = np.geomspace(cfg.bandwidth_min, cfg.bandwidth_max, cfg.n_bandwidths) * len(k) ** (-1.0 / (self.dim + 4))  # times Scott's n^(-1/(D+4))
        seed = sklearn_seed(generator)
        m = len(k) if cfg.cv_max_points is None else min(len(k), cfg.cv_max_points)
        subset = k if m == len(k) else k[np.sort(np.random.default_rng(seed).choice(len(k), m, replace=False))]
        folds = list(KFold(cfg.cv_folds, shuffle=True, random_state=seed).split(subset.numpy()))
        best, cv = choose_factor(subset, scales, factors, folds, levels)
        with torch.no_grad():
            self.support = centres.to(self.device)
            self.pixel_scale.copy_(scales)
            self.bandwidth.fill_(float(factors[best]))
            self.fitted.fill_(True)
        return {
            "bandwidth": float(factors[best]),
            "bandwidth_at_grid_edge": float(cfg.n_bandwidths > 1 and best in (0, cfg.n_bandwidths - 1)),
            "cv_discrete_nll_bits_per_dim": float(-cv[best] / (m / cfg.cv_folds) / (self.dim * math.log(2.0))),
        }

    def _residual_variances(self) -> Tensor:
        """Variances of g along the discarded directions: their eigenvalues, or their mean (isotropic)."""
        lam = self.eigenvalues[self.kept :]
        if self.config.residual == "isotropic" and lam.numel():
            lam = lam.mean().expand_as(lam)
        return lam

    def _residual_log_density(self, r: Tensor) -> Tensor:
        """log g(r) for residual PCA coordinates ``r`` (m, D - d); 0 when nothing is discarded."""
        lam = self._residual_variances()
        return (-0.5 * (LOG_2PI + lam.log()) - 0.5 * r * r / lam).sum(1)

    @torch.no_grad()
    def log_likelihood(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """Exact log-density in nats: KDE on the leading PCA scores times the residual Gaussian
        (diagonal kernel: ``N(v; x_j, diag (c s)^2) = N(v/s; x_j/s, c^2 I) / prod_d s_d``)."""
        self._check_fitted()
        if self.diagonal:
            s = self.pixel_scale
            ll = gaussian_kde_log_density(self._flat(x) / s, self.support / s, self.bandwidth) - s.log().sum()
            return ll.to(x.dtype)
        t = (self._flat(x) - self.mean) @ self.basis
        d = self.kept
        scales = self._scales()
        ll = gaussian_kde_log_density(t[:, :d] / scales, self.support, self.bandwidth)
        ll = ll - scales.log().sum() + self._residual_log_density(t[:, d:])
        return ll.to(x.dtype)

    @torch.no_grad()
    def discrete_log_prob(self, x: Tensor, generator: torch.Generator, samples: int = 16) -> Tensor:
        """Exact ``log P(k)`` for the diagonal kernel (see :mod:`.diagonal`); else importance sampling."""
        if not self.diagonal:
            return super().discrete_log_prob(x, generator, samples)
        self._check_fitted()
        levels = self.info.levels
        table = cell_table(levels, self.pixel_scale * self.bandwidth)
        support = torch.floor(self.support * levels).long()  # cell centres -> levels
        return log_prob_levels(level_index(self._flat(x), levels), support, table)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator, temperature: float = 1.0) -> Tensor:
        """A random training point plus ``T h`` kernel noise; residual dims from ``T`` times their Gaussian."""
        self._check_sampling(temperature)
        dev, f64, d = self.device, torch.float64, self.kept
        idx = torch.randint(0, len(self.support), (n,), generator=generator, device=dev)
        z = torch.randn(n, self.dim, generator=generator, device=dev, dtype=f64) * temperature
        if self.diagonal:
            v = self.support[idx] + self.bandwidth * self.pixel_scale * z
            return to_levels(v.to(torch.float32).view(n, *self.data_shape), self.info.levels)
        kept = (self.support[idx] + self.bandwidth * z[:, :d]) * self._scales()
        t = torch.cat([kept, z[:, d:] * self._residual_variances().sqrt()], dim=1)
        v = (self.mean + t @ self.basis.T).to(torch.float32).view(n, *self.data_shape)
        return to_levels(v, self.info.levels)
