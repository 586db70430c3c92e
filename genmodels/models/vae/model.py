"""Variational autoencoder (Kingma & Welling 2014) with a beta-weighted KL (Higgins et al. 2017).

The decoder is a Gaussian ``p(v|z) = N(mu(z), diag sigma^2(z))`` over dequantized data
``v`` (see :mod:`genmodels.models.core.dequantize`), so its likelihood is comparable with the
other families. On data with ``K`` levels it is trained on the levels themselves
(``likelihood: discrete``): ``P(k|z) = prod_d [Phi((hi_d - mu_d)/s_d) - Phi((lo_d - mu_d)/s_d)]``
over each level's cell, the outer cells with their tails, which lets the decoder put all of
a pixel's mass on level 0 (most pixels of a digit) — the distribution its draws follow and
its discrete NLL scores. The test likelihood is the importance-weighted bound of Burda et al. (2016):
``log p(v) >= E log (1/k) sum_i p(v, z_i) / q(z_i|v)``, ``z_i ~ q(z|v)``.

The prior ``p(z)`` (a strategy object, :mod:`genmodels.models.vae.priors`) is ``N(0, I)``, a
learned diagonal Gaussian mixture, or the VampPrior of Tomczak & Welling (2018),
``p(z) = (1/K) sum_k q(z | u_k)`` with learned pseudo-inputs ``u_k``. A standard normal
prior leaves "holes" where the aggregate posterior has no mass, and decoded prior samples
from there are poor; the VampPrior follows the aggregate posterior (on digits, FID 3.6 -> 0.4
at the same decoder). With a learned prior the KL term of the ELBO is the one-sample estimate
``log q(z|v) - log p(z)``; the IW bound uses ``log p(z)`` as it is, so the reported
likelihood is that of the model that is sampled.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from genmodels.configbase import StrictModel
from genmodels.data.base import DatasetInfo
from genmodels.models.core.base import GenerativeModel
from genmodels.models.core.dequantize import dequantize, level_edges, log_normal_cell_mass, quantize_back, to_levels
from genmodels.models.core.nets import ConvDecoder, ConvEncoder, mlp
from genmodels.models.core.registry import register_model
from genmodels.models.vae.priors import Components, LatentPrior, PriorSpec, attach_prior

LOG_2PI = math.log(2 * math.pi)


class VAEConfig(StrictModel):
    arch: Literal["mlp", "conv"] = "mlp"  # conv needs image data
    latent_dim: int = Field(10, ge=1)  # size of the latent z
    hidden: list[int] = Field(default_factory=lambda: [512, 256], min_length=1)  # MLP widths (encoder; decoder mirrors)
    conv_width: int = Field(32, ge=4)  # channels of the first conv layer (conv arch)
    beta: float = Field(1.0, gt=0.0)  # weight of the KL term (1 = the ELBO)
    min_log_std: float = Field(-6.0, le=0.0)  # floor of the decoder's log standard deviation
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


def gaussian_log_prob(x: Tensor, mean: Tensor, log_std: Tensor) -> Tensor:
    """Sum over all but the first dim of log N(x; mean, exp(log_std)^2)."""
    lp = -0.5 * (((x - mean) * torch.exp(-log_std)) ** 2 + 2 * log_std + LOG_2PI)
    return lp.flatten(1).sum(1)


@register_model("vae")
class VAE(GenerativeModel):
    config_cls = VAEConfig
    likelihood_kind = "bound"

    def __init__(self, config: VAEConfig, info: DatasetInfo) -> None:
        super().__init__(config, info)
        self.dim = math.prod(self.data_shape)
        self.bounded = info.levels is not None  # dequantized data live in [0, 1]
        z = config.latent_dim
        if config.arch == "conv":
            if len(self.data_shape) != 3:
                raise ValueError(f"vae.arch=conv needs image data (C, H, W), got shape {list(self.data_shape)}")
            enc = ConvEncoder(self.data_shape, config.conv_width)
            self.encoder = nn.Sequential(enc, nn.Linear(enc.out_dim, 2 * z))
            self.decoder = ConvDecoder(z, self.data_shape, config.conv_width, 2 * self.data_shape[0])
        else:
            h = config.hidden
            self.encoder = nn.Sequential(nn.Flatten(), mlp([self.dim, *h, 2 * z], final_activation=False))
            self.decoder = mlp([z, *reversed(h), 2 * self.dim])
        spec = PriorSpec(z, config.prior_components, self.data_shape, self.bounded)
        # registers prior_mixture.* (mixture) or pseudo_inputs (vamp) on this module
        self.latent_prior: LatentPrior = attach_prior(config.prior, self, spec, self.encode)

    # -- prior (strategy: genmodels.models.vae.priors) -------------------------------------
    def prior_components(self) -> Components | None:
        """Means, log standard deviations ``(K, latent)`` and log weights ``(K,)`` of a mixture
        prior; None for ``N(0, I)``."""
        return self.latent_prior.components()

    def log_prior(self, z: Tensor, components: Components | None = None) -> Tensor:
        """``log p(z)`` over the last dim: ``N(z; 0, I)`` or ``log sum_k w_k N(z; m_k, diag s_k^2)``
        (``components``: :meth:`prior_components`, when the caller already has them)."""
        return self.latent_prior.log_prob(z, components)

    @property
    def gaussian_latent(self) -> bool:
        return self.latent_prior.standard_normal

    def sample_latent(self, n: int, generator: torch.Generator, temperature: float = 1.0) -> Tensor:
        """``z ~ p(z)``; a mixture draws a component ``k ~ w`` and then ``m_k + T s_k eps``."""
        return self.latent_prior.sample(n, generator, temperature)

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def encode(self, v: Tensor) -> tuple[Tensor, Tensor]:
        mu, log_std = self.encoder(v).chunk(2, dim=1)
        return mu, log_std.clamp(-10.0, 5.0)

    def decoder_params(self, z: Tensor) -> tuple[Tensor, Tensor]:
        out = self.decoder(z).view(len(z), -1)
        mean, raw = out.chunk(2, dim=1)
        if self.bounded:
            mean = torch.sigmoid(mean)
        log_std = self.config.min_log_std + F.softplus(raw - self.config.min_log_std)
        return mean.view(-1, *self.data_shape), log_std.view(-1, *self.data_shape)

    def training_losses(self, x: Tensor, y: Tensor | None, generator: torch.Generator) -> Iterator[tuple[str, Tensor]]:
        v = dequantize(x, self.info.levels, generator)
        mu, log_std = self.encode(v)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device)
        z = mu + eps * log_std.exp()
        mean, dec_log_std = self.decoder_params(z)
        if self.info.levels is not None and self.config.likelihood == "discrete":
            lo, hi = (e.flatten(1) for e in level_edges(x, self.info.levels))
            rec = -log_normal_cell_mass(lo, hi, mean.flatten(1), dec_log_std.flatten(1)).sum(1).float()
            rec = rec - self.dim * math.log(self.info.levels)  # in density units: log p(v) = log P(k) + D log K
        else:
            rec = -gaussian_log_prob(v, mean, dec_log_std)
        kl = self.latent_prior.kl(mu, log_std, eps, z)  # closed form for N(0, I), else one-sample
        yield "model", (rec + self.config.beta * kl).mean() / self.dim

    def decode(self, z: Tensor) -> Tensor:
        mean, _ = self.decoder_params(z)
        return quantize_back(mean, self.info.levels)

    def decode_sample(self, z: Tensor, generator: torch.Generator) -> Tensor:
        """A draw ``v ~ N(mu(z), sigma(z)^2)`` at its level (``sample_output: draw``) — the model
        that the discrete NLL scores — or the decoder mean ``decode(z)`` (``mean``)."""
        if self.config.sample_output == "mean":
            return self.decode(z)
        mean, log_std = self.decoder_params(z)
        v = mean + log_std.exp() * torch.randn(mean.shape, generator=generator, device=mean.device)
        return to_levels(v, self.info.levels)

    def _iw_bound(self, enc_input: Tensor, log_px_z, generator: torch.Generator) -> Tensor:  # noqa: ANN001
        """``log (1/k) sum_i p(x | z_i) p(z_i) / q(z_i | enc_input)``, ``z_i ~ q``, k = ``iw_samples``
        (Burda et al. 2016): a lower bound on ``log p(x)`` in expectation, for any encoder input."""
        k = self.config.iw_samples
        mu, log_std = self.encode(enc_input)
        prior = self.latent_prior.components()  # once, not per chunk (None for N(0, I))
        chunks = []
        for start in range(0, k, 16):
            m = min(16, k - start)
            eps = torch.randn((m, *mu.shape), generator=generator, device=mu.device)
            z = mu + eps * log_std.exp()  # (m, n, latent)
            mean, dec_log_std = self.decoder_params(z.reshape(-1, mu.shape[1]))
            log_pz = self.latent_prior.log_prob(z, prior)
            log_qz = (-0.5 * (eps**2 + LOG_2PI) - log_std).sum(-1)
            chunks.append(log_px_z(mean, dec_log_std, m).view(m, -1) + log_pz - log_qz)
        return torch.logsumexp(torch.cat(chunks, 0), 0) - math.log(k)

    @torch.no_grad()
    def log_likelihood(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """Importance-weighted lower bound on the density ``log p(v)`` at dequantized ``v``."""

        def log_px_z(mean: Tensor, log_std: Tensor, m: int) -> Tensor:
            return gaussian_log_prob(x.unsqueeze(0).expand(m, *x.shape).reshape(-1, *x.shape[1:]), mean, log_std)

        return self._iw_bound(x, log_px_z, generator)

    @torch.no_grad()
    def discrete_log_prob(self, x: Tensor, generator: torch.Generator, samples: int = 16) -> Tensor:
        """Importance-weighted lower bound on ``log P(k)`` with the decoder integrated over each
        level's cell: ``log P(k|z) = sum_d log[Phi((hi_d - mu_d)/s_d) - Phi((lo_d - mu_d)/s_d)]``
        (edge cells take the tails); the encoder sees the cell centres."""
        if self.info.levels is None:
            return self.log_likelihood(x, generator)
        lo, hi = (e.flatten(1) for e in level_edges(x, self.info.levels))

        def log_px_z(mean: Tensor, log_std: Tensor, m: int) -> Tensor:
            rep = lambda t: t.unsqueeze(0).expand(m, *t.shape).reshape(-1, t.shape[1])  # noqa: E731
            return log_normal_cell_mass(rep(lo), rep(hi), mean.flatten(1), log_std.flatten(1)).sum(1)

        return self._iw_bound(dequantize(x, self.info.levels, None), log_px_z, generator)
