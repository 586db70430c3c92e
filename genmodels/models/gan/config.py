"""The GAN family's typed config (pydantic only: validating params needs no torch)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from genmodels.configbase import StrictModel
from genmodels.models.core.registry import register_model_config

Width = Annotated[int, Field(ge=1)]


@register_model_config("gan")
class GANConfig(StrictModel):
    arch: Literal["auto", "mlp", "conv"] = "auto"  # auto: conv for images >= 16x16, mlp for smaller images and points
    latent_dim: int = Field(32, ge=1)  # size of the standard-normal latent z
    hidden: list[Width] | None = Field(None, min_length=1)  # MLP widths of G and D; None: [512, 512] for images, [128, 128] for points
    conv_width: int = Field(32, ge=4)  # channels of D's first conv and G's last stage (conv arch); doubled per halving
    loss: Literal["ns", "wgan-gp"] = "ns"  # non-saturating (Goodfellow 2014) or Wasserstein with gradient penalty (Gulrajani 2017)
    n_critic: int | None = Field(None, ge=1)  # discriminator steps per generator step; None: 1 for ns, 5 for wgan-gp
    gp_weight: float = Field(10.0, ge=0.0)  # lambda of the WGAN-GP gradient penalty (wgan-gp only)
    r1_weight: float = Field(1.0, ge=0.0)  # gamma of the R1 penalty (gamma/2) E|grad D(x)|^2 on real data (ns only; 0: off)
    spectral_norm: bool = False  # spectral normalisation of every discriminator weight (Miyato et al. 2018)
    ema_decay: float = Field(0.999, ge=0.0, lt=1.0)  # max decay of the sampler's weight average (0: sample the raw generator)
