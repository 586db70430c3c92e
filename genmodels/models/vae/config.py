"""The VAE family's typed config (pydantic only: validating params needs no torch)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from genmodels.configbase import StrictModel
from genmodels.models.core.registry import register_model_config


@register_model_config("vae")
class VAEConfig(StrictModel):
    arch: Literal["mlp", "conv"] = "mlp"  # conv needs image data
    latent_dim: int = Field(10, ge=1)  # size of the latent z
    hidden: list[int] = Field(default_factory=lambda: [512, 256], min_length=1)  # MLP widths (encoder; decoder mirrors)
    conv_width: int = Field(32, ge=4)  # channels of the first conv layer (conv arch)
    beta: float = Field(1.0, gt=0.0)  # weight of the KL term (1 = the ELBO)
    # KL warm-up (Bowman et al. 2016; Sonderby et al. 2016): the KL weight rises linearly from
    # beta/N to beta over the first N optimizer steps, then stays at beta (0: beta from the start).
    # A common remedy for posterior collapse (a decoder that fits every pixel's marginal alone learns
    # to ignore z); on mnist5k 228 steps did not stop the VampPrior's collapse (docs/mnist5k.md)
    kl_warmup_steps: int = Field(0, ge=0)
    min_log_std: float = Field(-6.0, le=0.0)  # floor of the decoder's log standard deviation
    # on data with levels the decoder means live in [-m, 1 + m] (a sigmoid, stretched). At m = 0 a
    # mean cannot pass the outer cell's edge: a pixel's mass on level 0 is at most Phi(a cell / the
    # floor's sd), 0.94 at 256 levels and min_log_std -6 (1.0 at 17), and the fit trades sharpness
    # for it; m > 0 lets the outer cells (with their tails) take all of a pixel's mass at any number
    # of levels (mnist5k, 8 epochs: validation NLL 2.40 -> 1.71 bits/dim, FID 296 -> 51)
    mean_margin: float = Field(0.0, ge=0.0, le=1.0)
    iw_samples: int = Field(64, ge=1)  # k of the importance-weighted NLL bound at evaluation
    prior: Literal["standard", "mixture", "vamp"] = "vamp"  # N(0, I), a learned diagonal Gaussian mixture, or the VampPrior
    prior_components: int = Field(100, ge=1)  # K: mixture components, or VampPrior pseudo-inputs
    # what sample() returns: a true draw of p(x|z) (at the data's levels for images) or the decoder mean E[x|z]
    sample_output: Literal["draw", "mean"] = "draw"
    # reconstruction term of the training ELBO on data with discrete levels: "discrete" scores each
    # level's cell under the decoder Gaussian, outer cells with their tails (what the reported NLL and
    # the drawn samples use; the decoder can put all mass on level 0), "dequantized" the density
    # at a uniformly dequantized point (a bound on the same quantity, looser by the cells' spread)
    likelihood: Literal["discrete", "dequantized"] = "discrete"
    # Gaussians per pixel in the decoder, p(v_d|z) = sum_j w_dj N(mu_dj, s_dj^2): a stroke's edge pixel
    # is either background or ink, which one Gaussian can only cover by spreading over every level
    decoder_components: int = Field(1, ge=1)
    # after training, replace the prior by a full-covariance Gaussian mixture with this many components
    # fitted by EM to the aggregate posterior (refit_draws z ~ q(z|x) per training image; 0: keep the
    # trained prior). Ex-post density estimation (Ghosh et al. 2020; Dai & Wipf 2019's second stage):
    # the reported NLL and the draws both use the refitted prior
    refit_prior: int = Field(0, ge=0)
    refit_draws: int = Field(10, ge=1)  # posterior draws per training image for the refit
