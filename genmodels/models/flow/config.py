"""The flow family's typed config (pydantic only: validating params needs no torch)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from genmodels.configbase import StrictModel
from genmodels.models.core.registry import register_model_config

CouplingKind = Literal["affine", "spline"]


@register_model_config("flow")
class FlowConfig(StrictModel):
    # -- images (C, H, W)
    image_coupling: CouplingKind = "affine"  # RealNVP affine couplings, or rational-quadratic splines
    scales: int = Field(2, ge=1)  # multi-scale levels; fewer where the image cannot be halved again
    checker_layers: int = Field(3, ge=1)  # checkerboard couplings per level before its squeeze
    channel_layers: int = Field(3, ge=0)  # channel-mask couplings per level after its squeeze
    final_layers: int = Field(4, ge=1)  # checkerboard couplings of the last level
    conv_width: int = Field(32, ge=4)  # hidden channels of every coupling's conv net
    logit_alpha: float = Field(0.05, ge=0.0, lt=0.5)  # logit pre-processing y = logit(a + (1-2a) v) (no front end)
    pixel_norm: bool = True  # a per-pixel actnorm after the pre-processing (pixels have very different marginals)
    front_max_levels: int = Field(64, ge=0)  # quantized front end for discrete images with at most this many levels (0: off)
    # front end: "made" = one masked autoregressive layer over every pixel (MAF); "mlp"/"conv" = a chain of
    # couplings over pixel groups; auto: made while C*H*W*levels <= 4096, conv couplings beyond
    front_net: Literal["auto", "mlp", "conv", "made"] = "auto"
    front_hidden: list[int] = Field(default_factory=lambda: [512, 512], min_length=1)  # widths of the MADE / front-end MLPs
    # dropout on the MADE's hidden units while training; chosen on digits' validation NLL (best
    # validated epoch, weight decay 0.1): 0.05 -> 1.98, 0.5 -> 1.94, 0.75 -> 1.91, 0.85 -> 1.90 bits/dim
    front_dropout: float = Field(0.85, ge=0.0, lt=1.0)
    front_group_size: int | None = Field(None, ge=1)  # couplings: split pixel groups into interleaved parts of at most this size
    # -- points (D,)
    point_coupling: CouplingKind = "spline"  # coupling of point flows
    point_layers: int = Field(6, ge=2)  # MLP couplings for point data, alternating masks
    mlp_hidden: list[int] = Field(default_factory=lambda: [128, 128], min_length=1)  # widths of each point coupling's MLP
    # -- both
    base: Literal["gaussian", "mixture"] = "gaussian"  # latent base density: N(0, I) or a learned diagonal Gaussian mixture
    base_components: int = Field(10, ge=1)  # K of the mixture base
    # the mixture base's start: "data" puts its means on the latents of K training images (first
    # batch, like actnorm's init), "random" draws them from N(0, I)
    base_init: Literal["data", "random"] = "data"
    actnorm: bool = True  # actnorm before every coupling (data-dependent init on the first batch)
    inv_conv: bool = False  # invertible 1x1 conv / linear map before every channel or point coupling
    scale_bound: float = Field(2.0, gt=0.0)  # affine couplings' log-scale is bound * tanh(raw / bound)
    spline_bins: int = Field(16, ge=2)  # bins K of each spline (spline couplings)
    spline_bound: float = Field(3.0, gt=0.0)  # splines act on [-B, B] of actnorm'ed values, identity outside
