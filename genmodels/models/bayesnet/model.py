"""A discrete Bayesian network over binned variables with a Chow-Liu tree structure.

Each dimension becomes a discrete variable: an image pixel's grey level (``K`` states, or
``image_bins`` groups of adjacent levels, the black and white ends alone by default), or a point coordinate in ``point_bins`` equal bins
over the training range widened by ``margin`` on each side, plus one tail state below and
one above. The structure is the Chow-Liu tree (Chow & Liu 1968): the maximum spanning tree
of the pairwise plug-in mutual information ``I(X_i; X_j) = H_i + H_j - H_ij``, which
maximises the likelihood among tree-shaped networks. Rooted at variable 0,

    P(x) = prod_i P(x_i | x_pa(i)),   P(a | b) = (N_ba + alpha) / (N_b + alpha B),

the posterior mean under the BDeu Dirichlet prior (Heckerman, Geiger & Chickering 1995):
an equivalent sample size ``ess`` spread uniformly over each table, ``alpha = ess / B^2``
for a child (``ess / B`` for the root's marginal); ``ess = B^2`` is Laplace's rule. Scaling
with the table size keeps the prior's weight the same for 17 grey levels and for 98 point
bins. Sampling is ancestral in the breadth-first (topological) order of the tree.

Likelihood convention (:mod:`genmodels.models.core.dequantize`): a continuous ``v`` is uniform
inside its bin, so the density is ``p(v) = P(bin(v)) / prod_i width_i(bin_i(v))``. With one
bin per grey level every width is ``1/K`` and bits/dim equals the exact discrete NLL
``-log2 P(k) / D``, comparable with every other family. The tail states of point data
have the density ``P(tail) exp(-dist / w) / w`` beyond the outer edge (``w`` the bin width),
so the density is proper on all of R^D and finite everywhere.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from genmodels.data.base import DatasetInfo
from genmodels.errors import ModelConfigError
from genmodels.models.core.direct import DirectFitModel
from genmodels.models.core.registry import register_model
from genmodels.models.bayesnet.config import BayesNetConfig

_MAX_STATES = 16384  # D * B above this makes the (D*B)^2 pair-count matrix too large
_ROWS = 4096  # training samples one-hot encoded at once


def pair_counts(codes: Tensor, n_states: int) -> Tensor:
    """Co-occurrence counts ``J[i*B + a, j*B + b] = #{x_i = a, x_j = b}`` of codes ``(n, D)``, float64."""
    n, d = codes.shape
    if d * n_states > _MAX_STATES:
        raise ValueError(f"bayesnet: {d} variables x {n_states} states is too many for pairwise counts (limit {_MAX_STATES}); lower image_bins")
    if (codes < 0).any() or (codes >= n_states).any():
        raise ValueError(f"bayesnet: codes must lie in [0, {n_states})")
    dtype = torch.float32 if n < 2**24 else torch.float64  # 0/1 products summed in float32 are exact below 2^24 (TF32 too)
    counts = torch.zeros(d * n_states, d * n_states, dtype=dtype, device=codes.device)
    for start in range(0, n, _ROWS):
        hot = F.one_hot(codes[start : start + _ROWS], n_states).to(dtype).reshape(-1, d * n_states)
        counts += hot.T @ hot
    return counts.double()


def mutual_information(counts: Tensor, n_vars: int, n_states: int) -> Tensor:
    """Plug-in mutual information ``H_i + H_j - H_ij`` (nats) of all pairs from :func:`pair_counts`."""
    joint = counts.view(n_vars, n_states, n_vars, n_states).permute(0, 2, 1, 3)
    p = joint / joint[0, 0].sum()
    h_joint = -torch.special.xlogy(p, p).sum((2, 3))  # (D, D); the diagonal holds H_i
    h = torch.diagonal(h_joint)
    mi = (h[:, None] + h[None, :] - h_joint).clamp_min(0.0)
    return mi.fill_diagonal_(0.0)


def chow_liu_tree(mi: np.ndarray, root: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Maximum spanning tree of ``mi`` (D, D) rooted at ``root``: (parents with -1 at the root, BFS order)."""
    mi = np.asarray(mi, dtype=np.float64)
    d = len(mi)
    if mi.shape != (d, d) or not 0 <= root < d:
        raise ValueError(f"chow_liu_tree needs a square matrix and a root in [0, {d}), got {mi.shape} and {root}")
    # Every spanning tree has D-1 edges, so the minimum tree of (c - I) is the maximum tree of I;
    # c > max I keeps every off-diagonal weight positive (csgraph reads zeros as missing edges).
    weights = (float(mi.max()) + 1.0) - mi
    np.fill_diagonal(weights, 0.0)
    from scipy.sparse.csgraph import (  # scipy only where a tree is fitted
        breadth_first_order,
        minimum_spanning_tree,
    )

    tree = minimum_spanning_tree(weights)
    order, pred = breadth_first_order(tree, root, directed=False, return_predecessors=True)
    if len(order) != d:
        raise ValueError("chow_liu_tree: the spanning tree does not reach every variable")
    parents = np.where(pred < 0, -1, pred).astype(np.int64)
    return parents, order.astype(np.int64)


def conditional_tables(counts: Tensor, parents: np.ndarray, n_states: int, ess: float) -> Tensor:
    """BDeu posterior-mean log P(x_i = a | x_pa = b) as ``(D, B, B)`` [i, b, a]; the root's rows hold its marginal."""
    d, b = len(parents), n_states
    blocks = counts.view(d, b, d, b)
    tables = torch.empty(d, b, b, dtype=torch.float64, device=counts.device)
    for i, p in enumerate(parents.tolist()):
        if p < 0:
            marg = torch.diagonal(blocks[i, :, i, :]) + ess / b
            tables[i] = (marg / marg.sum()).log().expand(b, b)
        else:
            joint = blocks[p, :, i, :] + ess / (b * b)  # rows: parent state, columns: child state
            tables[i] = (joint / joint.sum(1, keepdim=True)).log()
    return tables


def state_edges(levels: int, bins: int, binning: str) -> Tensor:
    """First level of each of ``bins`` states, then ``levels``: ``(bins + 1,)``, increasing.

    ``even``: ``ceil(i K / B)``. ``ends``: level 0 and level K-1 alone, the levels between
    split evenly into the other ``B - 2`` states (``B = 2``: level 0 and the rest).
    """
    k, b = levels, bins
    if b >= k:
        return torch.arange(k + 1)
    if binning == "even":
        return torch.tensor([-(-i * k // b) for i in range(b + 1)])
    if b == 2:
        return torch.tensor([0, 1, k])
    inner = [1 + -(-i * (k - 2) // (b - 2)) for i in range(b - 1)]  # 1 .. K-1
    return torch.tensor([0, *inner, k])


def _check_size(d: int, b: int, discrete: bool) -> None:
    """ModelConfigError naming the key to lower when ``d`` variables x ``b`` states exceed the pair-count limit."""
    if d * b <= _MAX_STATES:
        return
    key, fixed = ("image_bins", 0) if discrete else ("point_bins", 2)  # point data adds 2 tail states
    most = _MAX_STATES // d - fixed
    low = 2 if discrete else 1
    advice = f"set model.{key} to at most {most}" if most >= low else "use smaller images or fewer dimensions (no bin count fits)"
    raise ModelConfigError(
        f"model.{key}: bayesnet with {d} variables x {b} states is too many for pairwise counts "
        f"(variables x states must be at most {_MAX_STATES}); {advice}"
    )


@register_model("bayesnet")
class BayesNet(DirectFitModel):
    config_cls = BayesNetConfig
    likelihood_kind = "exact"
    cell_constant = True

    def __init__(self, config: BayesNetConfig, info: DatasetInfo) -> None:
        super().__init__(config, info)
        self.dim = d = math.prod(self.data_shape)
        self.discrete = info.levels is not None
        if self.discrete:
            k = int(info.levels)
            b = config.image_bins or min(k, max(2, _MAX_STATES // d))
            if b > k:
                raise ModelConfigError(f"model.image_bins: {b} exceeds the {k} levels of the data; set at most {k}")
            first = state_edges(k, b, config.image_binning)
            self.register_buffer("first_level", first, persistent=False)
            self.register_buffer("level_state", torch.searchsorted(first, torch.arange(k), right=True) - 1, persistent=False)
        else:
            b = config.point_bins + 2  # state 0: below the range, 1..point_bins: bins, last: above
        self.n_states = b
        _check_size(d, b, self.discrete)
        self.register_buffer("lo", torch.zeros(d, dtype=torch.float64))  # continuous: lower edge of bin 1
        self.register_buffer("width", torch.ones(d, dtype=torch.float64))  # continuous: bin width
        self.register_buffer("parents", torch.full((d,), -1, dtype=torch.int64))
        self.register_buffer("order", torch.arange(d))
        self.register_buffer("log_cpt", torch.full((d, b, b), -math.log(b), dtype=torch.float64))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    def encode(self, v: Tensor) -> Tensor:
        """States ``(n, D)`` of density-space values (dequantized images or raw points)."""
        v = self._flat(v)
        if self.discrete:
            k = int(self.info.levels)
            level = torch.floor(v * k).clamp(0, k - 1).long()
            return self.level_state[level]
        pb = self.n_states - 2
        j = torch.floor((v - self.lo) / self.width).clamp(-1, pb)
        return (j + 1).long()

    def _log_volume(self, v: Tensor, states: Tensor) -> Tensor:
        """Per-sample sum over dims of log(density of v inside its state / P(state)), i.e. -log width (+ tail decay)."""
        if self.discrete:
            widths = (self.first_level[1:] - self.first_level[:-1]).double() / int(self.info.levels)
            return -widths.log()[states].sum(1)
        v = self._flat(v)
        hi = self.lo + (self.n_states - 2) * self.width
        dist = torch.where(states == 0, self.lo - v, torch.where(states == self.n_states - 1, v - hi, torch.zeros_like(v)))
        return (-self.width.log() - dist / self.width).sum(1)

    def fit_direct(self, x: Tensor, y: Tensor | None, generator: torch.Generator) -> dict[str, float]:
        """Bin the training split, learn the Chow-Liu tree, then smoothed tables along its edges."""
        xf = self._flat(x)
        if len(xf) == 0:
            raise ValueError("bayesnet: no training samples")
        if self.discrete:
            k = int(self.info.levels)
            states = self.level_state[torch.round(xf * (k - 1)).clamp(0, k - 1).long()]
        else:
            low, high = xf.min(0).values, xf.max(0).values
            span = torch.where(high > low, high - low, torch.ones_like(high))
            pb = self.n_states - 2
            with torch.no_grad():
                self.lo.copy_(low - self.config.margin * span)
                self.width.copy_(span * (1 + 2 * self.config.margin) / pb)
            states = self.encode(xf)
        counts = pair_counts(states, self.n_states)
        mi = mutual_information(counts, self.dim, self.n_states)
        parents, order = chow_liu_tree(mi.cpu().numpy())
        with torch.no_grad():
            self.parents.copy_(torch.from_numpy(parents))
            self.order.copy_(torch.from_numpy(order))
            self.log_cpt.copy_(conditional_tables(counts, parents, self.n_states, self.config.prior_ess))
            self.fitted.fill_(True)
        edges = [(int(p), i) for i, p in enumerate(parents) if p >= 0]
        tree_mi = float(sum(mi[p, i] for p, i in edges)) if edges else 0.0
        return {"tree_mutual_information": tree_mi, "train_mean_log_prob": float(self.log_prob_states(states).mean())}

    def log_prob_states(self, states: Tensor) -> Tensor:
        """log P(states) in nats of discrete states ``(n, D)`` under the network."""
        pa = states[:, self.parents.clamp_min(0)]  # the root's rows all hold its marginal, any index works
        idx = torch.arange(self.dim, device=states.device)
        return self.log_cpt[idx, pa, states].sum(1)

    @torch.no_grad()
    def log_likelihood(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """Exact log-density: log P(bin(v)) minus the log-volume of the bin (plus tail decay for points)."""
        self._check_fitted()
        states = self.encode(x)
        return (self.log_prob_states(states) + self._log_volume(x, states)).to(x.dtype)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator, temperature: float = 1.0) -> Tensor:
        """Ancestral sampling along the tree, tables tempered as ``P^(1/T)``; then a value inside each state."""
        self._check_fitted()
        if temperature <= 0:
            raise ValueError(f"bayesnet: temperature must be > 0, got {temperature}")
        dev = self.device
        states = torch.zeros(n, self.dim, dtype=torch.int64, device=dev)
        probs_all = torch.softmax(self.log_cpt / temperature, dim=-1)
        for i, p in zip(self.order.tolist(), self.parents[self.order].tolist()):
            probs = probs_all[i, 0].expand(n, -1) if p < 0 else probs_all[i][states[:, p]]
            states[:, i] = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        u = torch.rand(n, self.dim, generator=generator, device=dev, dtype=torch.float64)
        if self.discrete:
            first = self.first_level[states]
            count = self.first_level[states + 1] - first
            level = first + torch.floor(u * count).long().clamp_max(count - 1)
            x = level.double() / (int(self.info.levels) - 1)
        else:
            pb = self.n_states - 2
            hi = self.lo + pb * self.width
            inside = self.lo + (states - 1 + u) * self.width
            tail = -self.width * torch.log1p(-u)  # Exp(1) times the bin width
            x = torch.where(states == 0, self.lo - tail, torch.where(states == pb + 1, hi + tail, inside))
        x = x.to(torch.float32).view(n, *self.data_shape)
        return x.clamp(0.0, 1.0) if self.info.kind == "image" else x
