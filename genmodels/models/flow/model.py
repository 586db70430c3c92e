"""Normalizing flow: RealNVP (Dinh et al. 2017) with actnorm and 1x1 convs (Glow, Kingma &
Dhariwal 2018), spline couplings (Durkan et al. 2019) and a quantization-aware front end.

An invertible map ``f`` takes dequantized data ``v`` (see :mod:`genmodels.models.core.dequantize`)
to a latent ``z = f(v)`` of the same shape with a base density (standard normal, or a
learned Gaussian mixture), so the density is exact by the change of variables formula

    log p(v) = log p_base(f(v)) + log |det df/dv|,

where the log-det sums every layer's term, including the pre-processing of images.

Images: for coarsely quantized data (at most ``front_max_levels`` levels; the project's digits
params turn it off) a front end on the quantization cells (:mod:`genmodels.models.flow.front`)
followed by a probit, otherwise RealNVP's logit;
the front end is a masked autoregressive layer over all pixels (MAF with piecewise-linear
transformers, the default for small images) or a chain of piecewise-linear couplings over
pixel groups, coarse to fine. Then RealNVP's multi-scale architecture: per level,
checkerboard couplings, a squeeze, channel couplings, and half of the channels factored out
to the latent. Points: MLP couplings with alternating masks. Sampling inverts ``f`` on
base draws at temperature ``T``; ``latent_dim = prod(shape)``, so ``decode`` (and PPL) is
defined. A mixture base (FlowGMM, Izmailov et al. 2020) starts on the latents of training
images (``base_init: data``): on digits' validation split that took FID from 7.0 to 3.7
(40 components, 100 epochs; docs/defaults.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import Tensor, nn

from genmodels.data.base import DatasetInfo
from genmodels.models.core.base import GenerativeModel
from genmodels.models.core.dequantize import dequantize, quantize_back, to_levels
from genmodels.models.core.nets import mlp
from genmodels.models.core.priors import GaussianMixturePrior
from genmodels.models.core.registry import register_model
from genmodels.models.flow.config import CouplingKind, FlowConfig
from genmodels.models.flow.front import QuantizedAutoregressive, QuantizedCoupling
from genmodels.models.flow.layers import (
    ActNorm,
    AffineCoupling,
    Coupling,
    FactorOut,
    FlowLayer,
    FlowSequence,
    Inverted,
    InvertibleLinear,
    LogitTransform,
    ProbitTransform,
    SplineCoupling,
    Squeeze,
)

LOG_2PI = math.log(2 * math.pi)


# ------------------------------------------------------------------ masks and networks


def checkerboard_mask(height: int, width: int, parity: int) -> Tensor:
    """``(1, 1, H, W)``: 1 where ``(i + j) % 2 == parity`` (RealNVP, Fig. 3 left)."""
    i, j = torch.arange(height).view(-1, 1), torch.arange(width).view(1, -1)
    return (((i + j) % 2) == parity).float().view(1, 1, height, width)


def channel_mask(channels: int, parity: int) -> Tensor:
    """``(1, C, 1, 1)``: 1 on the first half of the channels (parity 0) or the second (RealNVP, Fig. 3 right)."""
    first = torch.arange(channels) < channels // 2
    return (first if parity == 0 else ~first).float().view(1, channels, 1, 1)


def alternating_mask(dim: int, parity: int) -> Tensor:
    """``(1, D)``: 1 on the coordinates with ``index % 2 == parity``."""
    return ((torch.arange(dim) % 2) == parity).float().view(1, dim)


def lattice_groups(height: int, width: int) -> list[tuple[Tensor, int]]:
    """Pixel groups, coarse to fine, of a multi-scale ordering of the grid.

    At stride ``s`` (1, 2, 4, ...) the lattice ``{(i, j): s | i, s | j}`` first loses its
    checkerboard-odd points, then the points with ``i/s`` odd; the rest is the lattice at
    stride ``2s``. What is left at the end forms the first group. Returns
    ``((1, 1, H, W) mask, stride)`` pairs; the masks partition the grid.
    """
    i = torch.arange(height).view(-1, 1).expand(height, width)
    j = torch.arange(width).view(1, -1).expand(height, width)
    remaining = torch.ones(height, width, dtype=torch.bool)
    fine_to_coarse: list[tuple[Tensor, int]] = []
    stride = 1
    while int(remaining.sum()) > 1 and stride < max(height, width):
        on = remaining & (i % stride == 0) & (j % stride == 0)
        odd = on & (((i // stride) + (j // stride)) % 2 == 1)
        both = on & ~odd & ((i // stride) % 2 == 1)
        for group in (odd, both):
            if group.any():
                fine_to_coarse.append((group, stride))
                remaining = remaining & ~group
        stride *= 2
    fine_to_coarse.append((remaining, stride))
    return [(g.float().view(1, 1, height, width), s) for g, s in reversed(fine_to_coarse)]


def split_group(mask: Tensor, max_size: int | None) -> list[Tensor]:
    """Split a ``(1, 1, H, W)`` group mask into ``ceil(n / max_size)`` interleaved parts: the
    group's pixels in raster order, every ``parts``-th one to the same part (so every part is
    spread over the image and conditions the next)."""
    n = int(mask.sum())
    parts = 1 if max_size is None else -(-n // max_size)
    if parts == 1:
        return [mask]
    flat = mask.flatten().nonzero().squeeze(1)
    out = []
    for r in range(parts):
        part = torch.zeros_like(mask).flatten()
        part[flat[r::parts]] = 1.0
        out.append(part.view_as(mask))
    return out


def zero_last(net: nn.Sequential) -> nn.Sequential:
    """Zero the last layer, so that a coupling built on ``net`` starts as the identity."""
    nn.init.zeros_(net[-1].weight)
    nn.init.zeros_(net[-1].bias)
    return net


def conv_net(channels: int, width: int, out_channels: int, dilation: int = 1) -> nn.Sequential:
    """Coupling network for images: 3x3 conv, 1x1 conv, 3x3 conv to ``out_channels`` (zeroed)."""
    d = dilation
    return zero_last(
        nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=d, dilation=d),
            nn.SiLU(),
            nn.Conv2d(width, width, 1),
            nn.SiLU(),
            nn.Conv2d(width, out_channels, 3, padding=d, dilation=d),
        )
    )


def flat_mlp(shape: tuple[int, ...], hidden: list[int], out_per_element: int) -> nn.Sequential:
    """Coupling network on the flattened input: ``shape -> (out_per_element * C, *rest)`` (zeroed)."""
    d = math.prod(shape)
    out_shape = (out_per_element * shape[0], *shape[1:])
    return nn.Sequential(nn.Flatten(), zero_last(mlp([d, *hidden, d * out_per_element])), nn.Unflatten(1, out_shape))


# ------------------------------------------------------------------ architectures


def _coupling_step(shape: tuple[int, ...], free: Tensor, kind: CouplingKind, cfg: FlowConfig, mix: bool) -> list[FlowLayer]:
    """[actnorm] [1x1 conv] coupling, on tensors of ``shape`` (without the batch)."""
    layers: list[FlowLayer] = []
    if cfg.actnorm:
        layers.append(ActNorm(shape))
    if mix and cfg.inv_conv:
        layers.append(InvertibleLinear(shape[0]))
    per_element = 2 if kind == "affine" else 3 * cfg.spline_bins - 1
    if len(shape) == 3:
        net = conv_net(shape[0], cfg.conv_width, per_element * shape[0])
    else:
        net = flat_mlp(shape, cfg.mlp_hidden, per_element)
    coupling: Coupling
    if kind == "affine":
        coupling = AffineCoupling(free, net, cfg.scale_bound)
    else:
        coupling = SplineCoupling(free, net, cfg.spline_bins, cfg.spline_bound)
    return [*layers, coupling]


def image_level(shape: tuple[int, int, int], level: int, cfg: FlowConfig) -> FlowSequence:
    """One level of the multi-scale flow; shape-preserving (it un-squeezes what it squeezed)."""
    c, h, w = shape
    last = level == cfg.scales - 1 or h % 2 == 1 or w % 2 == 1 or min(h, w) < 4
    kind = cfg.image_coupling
    layers: list[FlowLayer] = []
    for i in range(cfg.final_layers if last else cfg.checker_layers):
        layers += _coupling_step(shape, checkerboard_mask(h, w, i % 2), kind, cfg, mix=False)
    if last:
        return FlowSequence(layers)
    squeezed = (4 * c, h // 2, w // 2)
    layers.append(Squeeze())
    for i in range(cfg.channel_layers):
        layers += _coupling_step(squeezed, channel_mask(4 * c, i % 2), kind, cfg, mix=True)
    layers.append(FactorOut(2 * c, image_level((2 * c, h // 2, w // 2), level + 1, cfg)))
    layers.append(Inverted(Squeeze()))
    return FlowSequence(layers)


def quantized_front(shape: tuple[int, int, int], levels: int, cfg: FlowConfig) -> list[FlowLayer]:
    """The front end on the cells: an exact autoregressive categorical model of the pixel
    levels in a multi-scale order (coarse pixel groups first, channels of a pixel one after
    the other). ``made``: one :class:`QuantizedAutoregressive` layer, one pixel at a time;
    otherwise quantized couplings over the pixel groups, each conditioned on the coarser ones."""
    c, h, w = shape
    if cfg.front_net == "made" or (cfg.front_net == "auto" and c * h * w * levels <= 4096):
        # the lattice's coarse-to-fine order, one element at a time (channels innermost)
        pixel_order = torch.cat([mask.flatten().nonzero().squeeze(1) for mask, _ in lattice_groups(h, w)])
        element_order = (pixel_order[:, None] + h * w * torch.arange(c)[None, :]).flatten()
        rank = torch.empty_like(element_order)
        rank[element_order] = torch.arange(len(element_order))
        return [QuantizedAutoregressive(shape, rank, levels, cfg.front_hidden, cfg.front_dropout)]
    use_mlp = cfg.front_net == "mlp"
    layers: list[FlowLayer] = []
    seen = torch.zeros(1, c, h, w)
    groups = [(part, stride) for mask, stride in lattice_groups(h, w) for part in split_group(mask, cfg.front_group_size)]
    for mask, stride in groups:
        for ch in range(c):
            free = torch.zeros(1, c, h, w)
            free[:, ch] = mask[:, 0]
            if use_mlp:
                net = flat_mlp(shape, cfg.front_hidden, levels)
            else:
                net = conv_net(c, cfg.conv_width, c * levels, dilation=stride)
            layers.append(QuantizedCoupling(free, seen.clone(), net, levels))
            seen = seen + free
    return layers[::-1]


def build_flow(info: DatasetInfo, cfg: FlowConfig) -> FlowSequence:
    """The whole invertible map from density space to the latent, for ``info``'s data."""
    shape = tuple(info.shape)
    layers: list[FlowLayer] = []
    if info.kind == "image":
        if len(shape) != 3:
            raise ValueError(f"flow needs image data shaped (C, H, W), got {list(shape)}")
        if info.levels is not None:  # dequantized data live in [0, 1]
            if info.levels <= cfg.front_max_levels:  # its output is uniform where it fits: probit makes that Gaussian
                layers += quantized_front(shape, info.levels, cfg)  # type: ignore[arg-type]
                layers.append(ProbitTransform())
            else:
                layers.append(LogitTransform(cfg.logit_alpha))
        if cfg.pixel_norm:
            layers.append(ActNorm(shape, per_position=True))
        layers.append(image_level(shape, 0, cfg))  # type: ignore[arg-type]
        return FlowSequence(layers)
    if len(shape) != 1 or shape[0] < 2:
        raise ValueError(f"flow needs point data shaped (D,) with D >= 2, got {list(shape)}")
    for i in range(cfg.point_layers):
        layers += _coupling_step(shape, alternating_mask(shape[0], i % 2), cfg.point_coupling, cfg, mix=True)
    if cfg.actnorm:
        layers.append(ActNorm(shape))
    return FlowSequence(layers)


@register_model("flow")
class Flow(GenerativeModel):
    config_cls = FlowConfig
    likelihood_kind = "exact"

    def __init__(self, config: FlowConfig, info: DatasetInfo) -> None:
        super().__init__(config, info)
        self.dim = math.prod(self.data_shape)
        self.flow = build_flow(info, config)
        if config.base == "mixture":
            self.base = GaussianMixturePrior(config.base_components, self.dim)
            if config.base_init == "data":
                self.register_buffer("base_initialized", torch.zeros((), dtype=torch.uint8))

    def log_base(self, z: Tensor) -> Tensor:
        """``log p(z)`` of flattened latents: ``N(z; 0, I)`` or the learned mixture."""
        if self.config.base == "mixture":
            return self.base.log_prob(z)
        return -0.5 * (z.pow(2).sum(1) + self.dim * LOG_2PI)

    @property
    def gaussian_latent(self) -> bool:
        return self.config.base == "gaussian"

    def sample_latent(self, n: int, generator: torch.Generator, temperature: float = 1.0) -> Tensor:
        if self.config.base == "mixture":
            return self.base.sample(n, generator, temperature)
        return super().sample_latent(n, generator, temperature)

    @property
    def latent_dim(self) -> int:
        return self.dim

    @property
    def continuous_decoder(self) -> bool:
        """False with the quantized front end: its inverse jumps between grey-level cells."""
        info = self.info
        return not (info.kind == "image" and info.levels is not None and info.levels <= self.config.front_max_levels)

    def log_likelihood(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Exact log p(v) in nats: log p_base(f(v)) + log|det df/dv| (change of variables)."""
        if tuple(x.shape[1:]) != self.data_shape:
            raise ValueError(f"flow expects inputs shaped (n, {', '.join(map(str, self.data_shape))}), got {list(x.shape)}")
        z, log_det = self.flow(x)
        z = z.flatten(1)
        if self.training and hasattr(self, "base_initialized") and not bool(self.base_initialized):
            self.base.initialize(z.detach())
            self.base_initialized.fill_(1)
        return self.log_base(z) + log_det

    def training_losses(self, x: Tensor, y: Tensor | None, generator: torch.Generator) -> Iterator[tuple[str, Tensor]]:
        v = dequantize(x, self.info.levels, generator)
        yield "model", -self.log_likelihood(v).mean() / self.dim  # NLL in nats per dimension

    def decode_sample(self, z: Tensor, generator: torch.Generator) -> Tensor:
        """``v = f^-1(z)`` at its level: a draw from the discrete model the NLL scores (images)."""
        if self.info.levels is None:
            return self.decode(z)
        v, _ = self.flow.inverse(z.view(len(z), *self.data_shape))
        return to_levels(v, self.info.levels)

    def decode(self, z: Tensor) -> Tensor:
        """Invert the flow on latents ``(n, latent_dim)``; images come back in [0, 1]."""
        if z.dim() != 2 or z.shape[1] != self.dim:
            raise ValueError(f"flow latents must be shaped (n, {self.dim}), got {list(z.shape)}")
        v, _ = self.flow.inverse(z.view(len(z), *self.data_shape))
        if self.info.levels is not None:
            return quantize_back(v, self.info.levels)
        if self.info.kind == "image":
            return v.clamp(*self.info.value_range)
        return v
