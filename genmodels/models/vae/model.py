"""Variational autoencoder (Kingma & Welling 2014) with a beta-weighted KL (Higgins et al. 2017), optionally warmed up (Bowman et al. 2016).

The decoder is a Gaussian ``p(v|z) = N(mu(z), diag sigma^2(z))`` over dequantized data
``v`` (see :mod:`genmodels.models.core.dequantize`), so its likelihood is comparable with the
other families. On data with ``K`` levels it is trained on the levels themselves
(``likelihood: discrete``): ``P(k|z) = prod_d [Phi((hi_d - mu_d)/s_d) - Phi((lo_d - mu_d)/s_d)]``
over each level's cell, the outer cells with their tails, which lets the decoder put all of
a pixel's mass on level 0 (most pixels of a digit; at many levels only with ``mean_margin`` > 0,
since a mean squashed into [0, 1] cannot pass the outer cell's edge) — the distribution its draws follow and
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

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genmodels.data.base import DatasetInfo
from genmodels.models.core.base import GenerativeModel
from genmodels.models.core.dequantize import dequantize, level_edges, log_normal_cell_mass, quantize_back, to_levels
from genmodels.models.core.nets import ConvDecoder, ConvEncoder, mlp
from genmodels.models.core.registry import register_model
from genmodels.models.vae.config import VAEConfig
from genmodels.models.vae.priors import Components, LatentPrior, PriorSpec, RefitPrior, attach_prior

LOG_2PI = math.log(2 * math.pi)


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
            self.decoder = ConvDecoder(z, self.data_shape, config.conv_width, self.outputs_per_value * self.data_shape[0])
        else:
            h = config.hidden
            self.encoder = nn.Sequential(nn.Flatten(), mlp([self.dim, *h, 2 * z], final_activation=False))
            self.decoder = mlp([z, *reversed(h), self.outputs_per_value * self.dim])
        spec = PriorSpec(z, config.prior_components, self.data_shape, self.bounded)
        # registers prior_mixture.* (mixture) or pseudo_inputs (vamp) on this module
        self.latent_prior: LatentPrior = attach_prior(config.prior, self, spec, self.encode)
        if config.kl_warmup_steps:  # optimizer steps taken so far: the warm-up's clock, saved with the weights
            self.register_buffer("kl_steps", torch.zeros((), dtype=torch.int64))
        if config.refit_prior:  # registers refit_* buffers: the mixture that replaces the prior after training
            self.latent_prior = RefitPrior.attach(self, spec, self.encode, self.latent_prior, config.refit_prior)

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

    @property
    def outputs_per_value(self) -> int:
        """Decoder outputs per data value: mean and scale, plus a weight per component for a mixture."""
        m = self.config.decoder_components
        return 2 if m == 1 else 3 * m

    def decoder_mixture(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Per-value mixture ``(log w, mu, log s)``, each ``(n, M, D)`` (``M = decoder_components``;
        ``log w = 0`` for one Gaussian)."""
        out = self.decoder(z).view(len(z), -1)
        m = self.config.decoder_components
        if m == 1:
            mean, raw = (t.unsqueeze(1) for t in out.chunk(2, dim=1))
            log_w = torch.zeros_like(mean)
        else:
            logits, mean, raw = out.view(len(z), 3, m, self.dim).unbind(1)
            log_w = torch.log_softmax(logits, dim=1)
        if self.bounded:
            margin = self.config.mean_margin
            mean = torch.sigmoid(mean) if not margin else torch.sigmoid(mean) * (1 + 2 * margin) - margin
        log_std = self.config.min_log_std + F.softplus(raw - self.config.min_log_std)
        return log_w, mean, log_std

    def log_px_given_z(self, x: Tensor, mixture: tuple[Tensor, Tensor, Tensor], discrete: bool) -> Tensor:
        """``log p(v|z)`` per row: the mixture's density at dequantized ``v`` (``discrete`` False), or its
        mass ``log P(k|z)`` on each value's level cell, outer cells with their tails (``x``: data values)."""
        log_w, mean, log_std = mixture
        flat = x.flatten(1).unsqueeze(1)  # (n, 1, D) against (n, M, D)
        if discrete:
            lo, hi = level_edges(flat, self.info.levels)
            return torch.logsumexp(log_w.double() + log_normal_cell_mass(lo, hi, mean, log_std), dim=1).sum(1)  # float64
        per = -0.5 * (((flat - mean) * torch.exp(-log_std)) ** 2 + 2 * log_std + LOG_2PI)
        return torch.logsumexp(log_w + per, dim=1).sum(1)

    def decoder_mean(self, z: Tensor) -> Tensor:
        """``E[v|z] = sum_j w_j mu_j`` per value, in the data's shape."""
        log_w, mean, _ = self.decoder_mixture(z)
        return (log_w.exp() * mean).sum(1).view(-1, *self.data_shape)

    def training_losses(self, x: Tensor, y: Tensor | None, generator: torch.Generator) -> Iterator[tuple[str, Tensor]]:
        v = dequantize(x, self.info.levels, generator)
        mu, log_std = self.encode(v)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device)
        z = mu + eps * log_std.exp()
        mixture = self.decoder_mixture(z)
        if self.info.levels is not None and self.config.likelihood == "discrete":
            rec = -self.log_px_given_z(x, mixture, discrete=True).float()
            rec = rec - self.dim * math.log(self.info.levels)  # in density units: log p(v) = log P(k) + D log K
        else:
            rec = -self.log_px_given_z(v, mixture, discrete=False)
        kl = self.latent_prior.kl(mu, log_std, eps, z)  # closed form for N(0, I), else one-sample
        yield "model", (rec + self.kl_weight() * kl).mean() / self.dim

    def kl_weight(self) -> float | Tensor:
        """``beta``, or during the warm-up ``beta * min(1, (t + 1) / N)`` at step ``t`` (a tensor on
        the model's device: no host sync); each call in training mode advances ``t``."""
        if not self.config.kl_warmup_steps:
            return self.config.beta
        ramp = ((self.kl_steps + 1).double() / self.config.kl_warmup_steps).clamp(max=1.0)
        if self.training:
            self.kl_steps += 1
        return self.config.beta * ramp.float()

    @torch.no_grad()
    def finish_training(self, x: Tensor, generator: torch.Generator) -> dict[str, float]:
        """With ``refit_prior`` K > 0: fit the K-component mixture prior to ``refit_draws`` draws
        ``z ~ q(z|x)`` per training image (the encoder sees cell centres, as the NLL's does)."""
        if not isinstance(self.latent_prior, RefitPrior):
            return {}
        if len(x) * self.config.refit_draws < self.config.refit_prior:
            raise ValueError(f"vae: refit_prior={self.config.refit_prior} needs at least as many posterior draws; "
                             f"{len(x)} training images x refit_draws={self.config.refit_draws} give fewer")  # fmt: skip
        was_training = self.training
        self.eval()
        v = dequantize(x, self.info.levels, None)
        draws = []
        for _ in range(self.config.refit_draws):
            for part in v.split(4096):
                mu, log_std = self.encode(part)
                draws.append(mu + log_std.exp() * torch.randn(mu.shape, generator=generator, device=mu.device))
        stats = self.latent_prior.fit(torch.cat(draws), generator)
        self.train(was_training)
        return stats

    def decode(self, z: Tensor) -> Tensor:
        return quantize_back(self.decoder_mean(z), self.info.levels)

    def decode_sample(self, z: Tensor, generator: torch.Generator) -> Tensor:
        """A draw ``v ~ N(mu(z), sigma(z)^2)`` at its level (``sample_output: draw``) — the model
        that the discrete NLL scores — or the decoder mean ``decode(z)`` (``mean``)."""
        if self.config.sample_output == "mean":
            return self.decode(z)
        log_w, mean, log_std = self.decoder_mixture(z)
        if self.config.decoder_components > 1:  # each value's component, j ~ w (inverse CDF of one uniform)
            u = torch.rand(log_w[:, :1].shape, generator=generator, device=log_w.device)
            j = (log_w.exp().cumsum(1) < u).sum(1, keepdim=True).clamp_max(log_w.shape[1] - 1)
            mean, log_std = mean.gather(1, j), log_std.gather(1, j)
        v = mean[:, 0] + log_std[:, 0].exp() * torch.randn(mean[:, 0].shape, generator=generator, device=mean.device)
        return to_levels(v.view(-1, *self.data_shape), self.info.levels)

    def anomaly_score(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """``-log P(k)`` (the discrete bound the NLL reports) when trained on the levels; the
        density there is not a likelihood the decoder was fitted to (its Gaussians may be far
        narrower than a cell), so flipped digits could score higher than real ones. ``x`` is
        dequantized, as the metric passes it; otherwise ``-log p(v)``."""
        if self.info.levels is not None and self.config.likelihood == "discrete":
            return -self.discrete_log_prob(quantize_back(x, self.info.levels), generator)
        return super().anomaly_score(x, generator)

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
            mixture = self.decoder_mixture(z.reshape(-1, mu.shape[1]))
            log_pz = self.latent_prior.log_prob(z, prior)
            log_qz = (-0.5 * (eps**2 + LOG_2PI) - log_std).sum(-1)
            chunks.append(log_px_z(mixture, m).view(m, -1) + log_pz - log_qz)
        return torch.logsumexp(torch.cat(chunks, 0), 0) - math.log(k)

    @torch.no_grad()
    def log_likelihood(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """Importance-weighted lower bound on the density ``log p(v)`` at dequantized ``v``."""

        def log_px_z(mixture: tuple[Tensor, Tensor, Tensor], m: int) -> Tensor:
            return self.log_px_given_z(x.unsqueeze(0).expand(m, *x.shape).reshape(-1, *x.shape[1:]), mixture, discrete=False)

        return self._iw_bound(x, log_px_z, generator)

    @torch.no_grad()
    def discrete_log_prob(self, x: Tensor, generator: torch.Generator, samples: int = 16) -> Tensor:
        """Importance-weighted lower bound on ``log P(k)`` with the decoder integrated over each
        level's cell: ``log P(k|z) = sum_d log[Phi((hi_d - mu_d)/s_d) - Phi((lo_d - mu_d)/s_d)]``
        (edge cells take the tails); the encoder sees the cell centres."""
        if self.info.levels is None:
            return self.log_likelihood(x, generator)

        def log_px_z(mixture: tuple[Tensor, Tensor, Tensor], m: int) -> Tensor:
            return self.log_px_given_z(x.unsqueeze(0).expand(m, *x.shape).reshape(-1, *x.shape[1:]), mixture, discrete=True)

        return self._iw_bound(dequantize(x, self.info.levels, None), log_px_z, generator)
