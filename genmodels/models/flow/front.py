"""Flow layers on quantization cells: the front end of the flow for few-level images.

Both layers map every element through the piecewise-linear CDF of a categorical over the
``K`` quantization cells (:func:`quantized_cdf`, the piecewise-linear couplings of Mueller
et al. 2019), with parameters that depend only on the cells of other elements, so the
density is uniform inside every cell and the layer is an exact categorical model of the
digitised data. :class:`QuantizedCoupling` transforms a group of elements given others
(chained over pixel groups, coarse to fine); :class:`QuantizedAutoregressive` transforms all
elements at once, autoregressively, as MAF does (Papamakarios, Pavlakou & Murray 2017):
element ``d`` (in a fixed order) gets its parameters from the elements before it, all in
one pass of a MADE network (Germain et al. 2015), so the Jacobian is triangular and the
layer is the categorical model ``prod_d q(k_d | k_<d)``. Inverting it (sampling) runs the
network once per element.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from genmodels.models.flow.layers import Coupling, FlowLayer


def cell_index(x: Tensor, bins: int) -> Tensor:
    """``floor(K x)`` clamped to the cells ``0 .. K-1`` (as a float tensor)."""
    return torch.floor(x * bins).clamp(0, bins - 1)


def cell_log_frequencies(x: Tensor, bins: int) -> Tensor:
    """``log((count + 1) / (n + K))`` of every element's cells over the batch (summed over all
    ranks when distributed): add-one smoothed log-frequencies, shape ``x.shape[1:] + (K,)``."""
    counts = F.one_hot(cell_index(x, bins).long(), bins).to(x.dtype).sum(0)
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(counts)
    return torch.log((counts + 1) / (counts.sum(-1, keepdim=True) + bins))


def quantized_cdf(x: Tensor, logits: Tensor, inverse: bool, floor: float = 1e-3) -> tuple[Tensor, Tensor]:
    """The piecewise-linear map of [0, 1] whose ``K`` pieces are the cells ``[k/K, (k+1)/K)``:

        y = Q_k + (K x - k) q_k,   Q_k = sum_{j<k} q_j,   log|dy/dx| = log(K q_k),

    with ``q = (1 - floor) softmax(logits) + floor / K`` (no cell gets probability 0).
    ``logits`` has shape ``x.shape + (K,)``. Returns the image and the log-derivative of the
    direction applied (``-log(K q_k)`` for the inverse).
    """
    bins = logits.shape[-1]
    q = (1 - floor) * torch.softmax(logits, dim=-1) + floor / bins
    left = torch.cumsum(q, dim=-1) - q
    if inverse:
        k = torch.searchsorted(left[..., 1:].contiguous(), x.unsqueeze(-1).contiguous(), right=True)
    else:
        k = cell_index(x, bins).long().unsqueeze(-1)
    qk, lk = q.gather(-1, k).squeeze(-1), left.gather(-1, k).squeeze(-1)
    kf = k.squeeze(-1).to(x.dtype)
    log_deriv = torch.log(bins * qk)
    if inverse:
        return (kf + (x - lk) / qk) / bins, -log_deriv
    return lk + (x * bins - kf) * qk, log_deriv


class QuantizedCoupling(Coupling):
    """Piecewise-linear coupling (Mueller et al. 2019) whose ``K`` input bins are the data's
    quantization cells ``[k/K, (k+1)/K)`` of [0, 1] (see :mod:`genmodels.models.core.dequantize`).

    A free element is mapped to [0, 1] by the CDF of a categorical ``q`` over the K levels,
    predicted from the elements under ``cond``:

        y = Q_k + (K x - k) q_k,   k = floor(K x),   Q_k = sum_{j<k} q_j,   log|dy/dx| = log(K q_k).

    Uniformly dequantized data have a constant density inside each cell, which this map
    represents exactly; ``net`` sees only the levels of the conditioning elements, so a chain
    of these couplings over groups of pixels, each conditioned on the groups not yet
    transformed, is an exact categorical model ``prod_g q(k_g | k_<g)`` of the digitised
    data. The logits are ``net`` of the conditioning cells plus a ``bias`` per free element,
    initialised (like :class:`ActNorm`) to the smoothed level histogram of the first training
    batch; ``q`` is mixed with ``floor`` of the uniform so that no level gets probability 0.
    The masks must have the input's full element shape ``(1, C, ...)``.
    """

    def __init__(self, free: Tensor, cond: Tensor, net: nn.Module, bins: int, floor: float = 1e-3) -> None:
        super().__init__(free, net, cond)
        if bins < 2:
            raise ValueError(f"a quantized coupling needs at least 2 bins, got {bins}")
        self.params_per_element = bins
        self.floor = floor
        self.register_buffer("free_index", free[0].bool().nonzero().t(), persistent=False)  # (element dims, n_free)
        self.bias = nn.Parameter(torch.zeros(self.free_index.shape[1], bins))  # logits of the free elements only
        self.register_buffer("initialized", torch.zeros((), dtype=torch.uint8))

    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        """Set ``bias`` to the log of the smoothed per-element level histogram of ``x``."""
        self.bias.copy_(cell_log_frequencies(x, self.params_per_element)[tuple(self.free_index)])
        self.initialized.fill_(1)

    def condition(self, x: Tensor) -> Tensor:
        """The centres of the conditioning elements' cells: the categorical depends on the
        levels only, so the density is constant on every cell (an exact discrete model)."""
        return (cell_index(x, self.params_per_element) + 0.5) / self.params_per_element * self.cond

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.training and not bool(self.initialized):
            self.initialize(x)
        return super().forward(x)

    def transform(self, x: Tensor, params: Tensor, inverse: bool) -> tuple[Tensor, Tensor]:
        if tuple(params.shape[1:-1]) != tuple(self.free.shape[1:]):
            raise ValueError(f"quantized coupling masks must have the input's shape {list(params.shape[1:-1])}, got {list(self.free.shape[1:])}")
        bias = params.new_zeros(params.shape[1:]).index_put(tuple(self.free_index), self.bias)
        return quantized_cdf(x, params + bias, inverse, self.floor)


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 mask ``(out, in)``."""

    def __init__(self, mask: Tensor) -> None:
        super().__init__(mask.shape[1], mask.shape[0])
        self.register_buffer("mask", mask.float(), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """MADE: outputs ``per_element`` numbers for element ``d`` that depend only on the inputs
    ranked before it. ``rank`` gives each of the ``D`` elements its position in the order;
    hidden unit ``h`` gets degree ``m_h = h mod (D - 1)``, connects to inputs with rank <=
    ``m_h`` and feeds outputs with rank > ``m_h``; a direct masked input-output layer adds the
    linear part. The last layers start at zero; ``dropout`` acts on the hidden units while
    training (the evaluated density is the deterministic network's)."""

    def __init__(self, rank: Tensor, hidden: Sequence[int], per_element: int, dropout: float = 0.0) -> None:
        super().__init__()
        d = len(rank)
        self.per_element = per_element
        out_rank = rank.repeat_interleave(per_element)  # outputs grouped per element
        degrees = [rank] + [torch.arange(h) % max(d - 1, 1) for h in hidden]
        layers: list[nn.Module] = []
        for prev, cur in zip(degrees[:-1], degrees[1:]):
            layers += [MaskedLinear(cur[:, None] >= prev[None, :]), nn.SiLU()] + ([nn.Dropout(dropout)] if dropout > 0 else [])
        self.hidden = nn.Sequential(*layers)
        self.out = MaskedLinear(out_rank[:, None] > degrees[-1][None, :])
        self.direct = MaskedLinear(out_rank[:, None] > rank[None, :])
        for layer in (self.out, self.direct):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: Tensor) -> Tensor:
        """``(n, D) -> (n, D, per_element)``."""
        return (self.out(self.hidden(x)) + self.direct(x)).view(len(x), -1, self.per_element)


class QuantizedAutoregressive(FlowLayer):
    """Masked autoregressive flow over all elements of ``shape`` with :func:`quantized_cdf`
    transformers on ``bins`` cells, in the order given by ``rank`` (one rank per element, in
    the flattened element order). The logits are the MADE output plus a per-element
    ``bias``, initialised (like actnorm) to the smoothed cell histogram of the first
    training batch, so the untrained layer is the product of the marginals."""

    def __init__(self, shape: Sequence[int], rank: Tensor, bins: int, hidden: Sequence[int], dropout: float = 0.0, floor: float = 1e-3) -> None:
        super().__init__()
        self.shape = tuple(shape)
        d = int(torch.tensor(self.shape).prod())
        if sorted(rank.tolist()) != list(range(d)):
            raise ValueError(f"rank must be a permutation of 0..{d - 1}")
        if bins < 2:
            raise ValueError(f"a quantized autoregressive layer needs at least 2 bins, got {bins}")
        self.bins, self.floor = bins, floor
        self.register_buffer("rank", rank.long(), persistent=False)
        self.net = MADE(rank, hidden, bins, dropout)
        self.bias = nn.Parameter(torch.zeros(d, bins))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.uint8))

    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        """Set ``bias`` to the log of the smoothed per-element level histogram of ``x``."""
        self.bias.copy_(cell_log_frequencies(x.flatten(1), self.bins))
        self.initialized.fill_(1)

    def logits(self, x: Tensor) -> Tensor:
        """``(n, D, K)`` logits from the cell centres of ``x`` (n, D)."""
        return self.net((cell_index(x, self.bins) + 0.5) / self.bins) + self.bias

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.training and not bool(self.initialized):
            self.initialize(x)
        flat = x.flatten(1)
        y, log_deriv = quantized_cdf(flat, self.logits(flat), inverse=False, floor=self.floor)
        return y.view_as(x), log_deriv.sum(1)

    def inverse(self, y: Tensor) -> tuple[Tensor, Tensor]:
        flat = y.flatten(1)
        x = torch.zeros_like(flat)
        for r in range(flat.shape[1]):  # element r's logits need only elements ranked before it
            x_all, _ = quantized_cdf(flat, self.logits(x), inverse=True, floor=self.floor)
            x = torch.where(self.rank == r, x_all, x)
        x, log_deriv = quantized_cdf(flat, self.logits(x), inverse=True, floor=self.floor)
        return x.view_as(y), log_deriv.sum(1)
