"""Invertible layers of the normalizing-flow family, on one small contract.

Every layer maps a batch ``x`` to ``(y, log_det)`` in :meth:`FlowLayer.forward` and back
with :meth:`FlowLayer.inverse` ``(y) -> (x, log_det_inv)``, where ``log_det`` is the
per-sample ``log |det dy/dx|`` (shape ``(n,)``) and ``log_det_inv = -log_det``. A
:class:`FlowSequence` of layers is itself a layer, so whole flows compose like the parts.
Layers act on points ``(n, D)`` or images ``(n, C, H, W)``; channels are dimension 1.

References: RealNVP (Dinh, Sohl-Dickstein & Bengio 2017) for affine coupling, squeezing and
multi-scale factoring out; Glow (Kingma & Dhariwal 2018) for actnorm and the invertible 1x1
convolution; Neural Spline Flows (Durkan et al. 2019) for rational-quadratic splines. The layers on
quantization cells are in :mod:`genmodels.models.flow.front`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn


def _sum_per_sample(t: Tensor) -> Tensor:
    """Sum over every dimension but the batch one."""
    return t.flatten(1).sum(1)


class FlowLayer(nn.Module):
    """Base class: an invertible map with a tractable log-Jacobian determinant."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def inverse(self, y: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError


class FlowSequence(FlowLayer):
    """Composition ``f_k o ... o f_1``: the log-dets add up (chain rule)."""

    def __init__(self, layers: Sequence[FlowLayer]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        total = x.new_zeros(len(x))
        for layer in self.layers:
            x, ld = layer(x)
            total = total + ld
        return x, total

    def inverse(self, y: Tensor) -> tuple[Tensor, Tensor]:
        total = y.new_zeros(len(y))
        for layer in reversed(self.layers):
            y, ld = layer.inverse(y)
            total = total + ld
        return y, total


class Inverted(FlowLayer):
    """The inverse of a layer as a layer (un-squeezing is an inverted :class:`Squeeze`)."""

    def __init__(self, layer: FlowLayer) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.layer.inverse(x)

    def inverse(self, y: Tensor) -> tuple[Tensor, Tensor]:
        return self.layer(y)


class LogitTransform(FlowLayer):
    """RealNVP's pre-processing of data in [0, 1] (Sec. 4.1): ``y = logit(p)``, ``p = a + (1 - 2a) v``;
    log|dy/dv| = log(1 - 2a) - log p(1 - p) per element (``a > 0`` keeps it finite on the cube)."""

    def __init__(self, alpha: float = 0.05) -> None:
        super().__init__()
        if not 0.0 <= alpha < 0.5:
            raise ValueError(f"logit alpha must be in [0, 0.5), got {alpha}")
        self.alpha = alpha

    def _log_det(self, y: Tensor) -> Tensor:  # -log p(1 - p) at p = sigmoid(y), stable for any y
        return _sum_per_sample(math.log(1 - 2 * self.alpha) + F.softplus(y) + F.softplus(-y))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        p = self.alpha + (1 - 2 * self.alpha) * x
        y = torch.log(p) - torch.log1p(-p)
        return y, self._log_det(y)

    def inverse(self, y: Tensor) -> tuple[Tensor, Tensor]:
        return (torch.sigmoid(y) - self.alpha) / (1 - 2 * self.alpha), -self._log_det(y)


class ProbitTransform(FlowLayer):
    """``y = Phi^-1(a + (1 - 2a) v)`` for data in [0, 1], Phi the standard normal CDF;
    log|dy/dv| = log(1 - 2a) + log(2 pi) / 2 + y^2 / 2 per element. It maps the uniform
    density on the cube to (for small ``a``) the standard normal: the right link after layers
    that make their output uniform."""

    def __init__(self, alpha: float = 1e-6) -> None:
        super().__init__()
        if not 0.0 < alpha < 0.5:
            raise ValueError(f"probit alpha must be in (0, 0.5), got {alpha}")
        self.alpha = alpha

    def _log_det(self, y: Tensor) -> Tensor:
        return _sum_per_sample(math.log(1 - 2 * self.alpha) + 0.5 * math.log(2 * math.pi) + 0.5 * y * y)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y = torch.special.ndtri(self.alpha + (1 - 2 * self.alpha) * x)
        return y, self._log_det(y)

    def inverse(self, y: Tensor) -> tuple[Tensor, Tensor]:
        return (torch.special.ndtr(y) - self.alpha) / (1 - 2 * self.alpha), -self._log_det(y)


class ActNorm(FlowLayer):
    """Activation normalisation (Glow, Sec. 3.1): ``y = (x - loc) * exp(log_scale)`` per channel.

    ``loc`` and ``log_scale`` are set from the first batch seen in training mode so that the
    output has zero mean and unit variance per channel (statistics averaged over ranks when
    torch.distributed runs); the ``initialized`` buffer carries that through checkpoints.
    ``per_position`` gives every element its own pair (a per-pixel normalisation for images
    whose pixels have very different marginals). log|det| = sum of log_scale over elements.
    """

    def __init__(self, shape: Sequence[int], per_position: bool = False) -> None:
        super().__init__()
        shape = tuple(shape)
        param = shape if per_position else (shape[0],) + (1,) * (len(shape) - 1)
        self.loc = nn.Parameter(torch.zeros(1, *param))
        self.log_scale = nn.Parameter(torch.zeros(1, *param))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.uint8))
        self.shared = math.prod(shape) // math.prod(param)  # elements sharing one parameter

    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        """Data-dependent initialisation from the batch ``x``."""
        dims = [0] + [d + 1 for d, s in enumerate(self.loc.shape[1:]) if s == 1]
        moments = torch.stack([x.mean(dims, keepdim=True), (x * x).mean(dims, keepdim=True)])
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(moments)
            moments /= dist.get_world_size()
        mean, sq = moments
        self.loc.copy_(mean)
        self.log_scale.copy_(-torch.log((sq - mean * mean).clamp_min(0.0).sqrt() + 1e-6))
        self.initialized.fill_(1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.training and not bool(self.initialized):
            self.initialize(x)
        y = (x - self.loc) * torch.exp(self.log_scale)
        return y, (self.shared * self.log_scale.sum()).expand(len(x))

    def inverse(self, y: Tensor) -> tuple[Tensor, Tensor]:
        x = y * torch.exp(-self.log_scale) + self.loc
        return x, (-self.shared * self.log_scale.sum()).expand(len(y))


class InvertibleLinear(FlowLayer):
    """Invertible 1x1 convolution (Glow, Sec. 3.2): ``y = W x`` at every position.

    On points ``(n, D)`` it is a learned invertible linear map. log|det| = H W log|det W|.
    ``W`` starts as a random rotation (from the global RNG, like ``nn.Linear``'s init).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        q, _ = torch.linalg.qr(torch.randn(channels, channels))
        self.weight = nn.Parameter(q)

    @staticmethod
    def _mix(x: Tensor, w: Tensor) -> Tensor:
        return torch.einsum("ij,nj...->ni...", w, x)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        ld = math.prod(x.shape[2:]) * torch.linalg.slogdet(self.weight)[1]
        return self._mix(x, self.weight), ld.expand(len(x))

    def inverse(self, y: Tensor) -> tuple[Tensor, Tensor]:
        ld = -math.prod(y.shape[2:]) * torch.linalg.slogdet(self.weight)[1]
        return self._mix(y, torch.linalg.inv(self.weight)), ld.expand(len(y))


class Squeeze(FlowLayer):
    """Space-to-channel reshaping (RealNVP, Sec. 3.6): ``(C, H, W) -> (4C, H/2, W/2)``, log|det| = 0.

    Output channel ``4c + 2i + j`` holds input channel ``c`` at offset (i, j) of each 2x2 block.
    """

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        n, c, h, w = x.shape
        if h % 2 or w % 2:
            raise ValueError(f"Squeeze needs an even height and width, got {h}x{w}")
        y = x.view(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(n, 4 * c, h // 2, w // 2)
        return y, x.new_zeros(n)

    def inverse(self, y: Tensor) -> tuple[Tensor, Tensor]:
        n, c4, h, w = y.shape
        if c4 % 4:
            raise ValueError(f"un-squeezing needs a multiple of 4 channels, got {c4}")
        x = y.view(n, c4 // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3).reshape(n, c4 // 4, 2 * h, 2 * w)
        return x, y.new_zeros(n)


class FactorOut(FlowLayer):
    """Multi-scale architecture (RealNVP, Sec. 3.6): ``inner`` transforms the first ``keep``
    channels; the others leave the flow here and go straight to the Gaussian latent."""

    def __init__(self, keep: int, inner: FlowLayer) -> None:
        super().__init__()
        self.keep = keep
        self.inner = inner

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y, ld = self.inner(x[:, : self.keep])
        return torch.cat([y, x[:, self.keep :]], 1), ld

    def inverse(self, y: Tensor) -> tuple[Tensor, Tensor]:
        x, ld = self.inner.inverse(y[:, : self.keep])
        return torch.cat([x, y[:, self.keep :]], 1), ld


class Coupling(FlowLayer):
    """Coupling layer (RealNVP, Sec. 3.3): the elements under ``free`` go through an
    elementwise bijection whose parameters ``net`` computes from the elements under ``cond``
    (default: all the others); everything else passes unchanged, so the Jacobian is
    triangular and log|det| is the sum of the free elements' log-derivatives.

    ``net`` maps ``cond * x`` (shape ``(n, C, ...)``) to ``(n, C * P, ...)``: ``P`` numbers
    per element. Subclasses implement :meth:`transform`.
    """

    params_per_element: int

    def __init__(self, free: Tensor, net: nn.Module, cond: Tensor | None = None) -> None:
        super().__init__()
        cond = 1 - free if cond is None else cond
        if bool((free * cond).any()):
            raise ValueError("the free and conditioning masks of a coupling must not overlap")
        self.register_buffer("free", free)
        self.register_buffer("cond", cond)
        self.net = net

    def transform(self, x: Tensor, params: Tensor, inverse: bool) -> tuple[Tensor, Tensor]:
        """Elementwise map and its elementwise log|derivative| (of the direction applied)."""
        raise NotImplementedError

    def condition(self, x: Tensor) -> Tensor:
        """The input of ``net``: the conditioning elements (any function of them keeps the
        Jacobian triangular)."""
        return x * self.cond

    def _apply_coupling(self, x: Tensor, inverse: bool) -> tuple[Tensor, Tensor]:
        n, c = x.shape[:2]
        params = self.net(self.condition(x)).view(n, c, self.params_per_element, *x.shape[2:]).movedim(2, -1)
        y, log_deriv = self.transform(x, params, inverse)
        free = self.free.bool().expand_as(x)
        return torch.where(free, y, x), _sum_per_sample(torch.where(free, log_deriv, torch.zeros_like(x)))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self._apply_coupling(x, inverse=False)

    def inverse(self, y: Tensor) -> tuple[Tensor, Tensor]:
        return self._apply_coupling(y, inverse=True)


class AffineCoupling(Coupling):
    """Affine coupling (RealNVP, Eq. 9): ``y = x * exp(s) + t`` on the free elements.

    The log-scale is soft-clamped, ``s = bound * tanh(raw / bound)``, which keeps exp(s) in
    [e^-bound, e^bound]: the inverse is as well conditioned as the forward map.
    """

    params_per_element = 2

    def __init__(self, free: Tensor, net: nn.Module, scale_bound: float = 2.0) -> None:
        super().__init__(free, net)
        if scale_bound <= 0:
            raise ValueError(f"scale_bound must be positive, got {scale_bound}")
        self.scale_bound = scale_bound

    def transform(self, x: Tensor, params: Tensor, inverse: bool) -> tuple[Tensor, Tensor]:
        raw, t = params.unbind(-1)
        s = self.scale_bound * torch.tanh(raw / self.scale_bound)
        if inverse:
            return (x - t) * torch.exp(-s), -s
        return x * torch.exp(s) + t, s


def rational_quadratic_spline(
    x: Tensor, raw_w: Tensor, raw_h: Tensor, raw_d: Tensor, bound: float, inverse: bool = False, min_size: float = 1e-3
) -> tuple[Tensor, Tensor]:
    """Monotone rational-quadratic spline (Durkan et al. 2019, Sec. 3.1), elementwise.

    ``K`` bins on ``[-bound, bound]`` (``raw_w``, ``raw_h``: ``(..., K)``; ``raw_d``:
    ``(..., K - 1)`` interior knot slopes; slope 1 at the ends), identity outside. In bin k
    with ``xi = (x - x_k) / w_k`` and ``s = h_k / w_k`` (their Eq. 4):

        y = y_k + h_k (s xi^2 + d_k xi (1 - xi)) / (s + (d_k + d_{k+1} - 2 s) xi (1 - xi)),

    and the inverse solves that quadratic in ``xi`` (Eqs. 6-8). All-zero raw values give
    the identity. Returns the output and the elementwise log|dy/dx| of the map applied.
    """
    k = raw_w.shape[-1]
    inside = (x >= -bound) & (x <= bound)
    xc = x.clamp(-bound, bound)

    def knots(raw: Tensor) -> tuple[Tensor, Tensor]:
        size = min_size + (1 - min_size * k) * torch.softmax(raw, dim=-1)
        inner = torch.cumsum(size[..., :-1], dim=-1) * 2 * bound - bound
        end = torch.full_like(inner[..., :1], bound)
        edges = torch.cat([-end, inner, end], -1)  # the ends exactly at -bound and bound
        return edges, edges[..., 1:] - edges[..., :-1]

    xs, widths = knots(raw_w)
    ys, heights = knots(raw_h)
    one = torch.ones_like(raw_d[..., :1])
    slopes = torch.cat([one, min_size + F.softplus(raw_d + math.log(math.expm1(1 - min_size))), one], -1)
    edges = ys if inverse else xs
    idx = torch.searchsorted(edges[..., 1:-1].contiguous(), xc.unsqueeze(-1).contiguous(), right=True)
    pick = lambda t: t.gather(-1, idx).squeeze(-1)  # noqa: E731
    x0, y0, w, h = pick(xs[..., :-1]), pick(ys[..., :-1]), pick(widths), pick(heights)
    d0, d1 = pick(slopes[..., :-1]), pick(slopes[..., 1:])
    s = h / w
    if inverse:
        dy = xc - y0
        a = h * (s - d0) + dy * (d0 + d1 - 2 * s)
        b = h * d0 - dy * (d0 + d1 - 2 * s)
        c = -s * dy
        xi = (2 * c / (-b - torch.sqrt((b * b - 4 * a * c).clamp_min(0.0)))).clamp(0.0, 1.0)
    else:
        xi = (xc - x0) / w
    t = xi * (1 - xi)
    denom = s + (d0 + d1 - 2 * s) * t
    log_deriv = 2 * torch.log(s) + torch.log(d1 * xi * xi + 2 * s * t + d0 * (1 - xi) ** 2) - 2 * torch.log(denom)
    zero = torch.zeros_like(x)
    if inverse:
        return torch.where(inside, x0 + xi * w, x), torch.where(inside, -log_deriv, zero)
    return torch.where(inside, y0 + h * (s * xi * xi + d0 * t) / denom, x), torch.where(inside, log_deriv, zero)


class SplineCoupling(Coupling):
    """Rational-quadratic spline coupling (Durkan et al. 2019): each free element goes through
    its own monotone spline with ``bins`` bins on ``[-bound, bound]`` (identity outside)."""

    def __init__(self, free: Tensor, net: nn.Module, bins: int = 8, bound: float = 3.0) -> None:
        super().__init__(free, net)
        if bins < 2 or bound <= 0:
            raise ValueError(f"a spline needs bins >= 2 and a positive bound, got bins={bins}, bound={bound}")
        self.bins = bins
        self.bound = bound
        self.params_per_element = 3 * bins - 1

    def transform(self, x: Tensor, params: Tensor, inverse: bool) -> tuple[Tensor, Tensor]:
        w, h, d = params.split([self.bins, self.bins, self.bins - 1], dim=-1)
        return rational_quadratic_spline(x, w, h, d, self.bound, inverse=inverse)
