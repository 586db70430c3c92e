"""Generative adversarial network (Goodfellow et al. 2014) with the non-saturating loss or WGAN-GP.

The discriminator ``D`` outputs one logit per input; with ``x`` real and ``G(z)`` fake:

- ``ns`` (Goodfellow et al. 2014, section 3):
  ``L_D = E softplus(-D(x)) + E softplus(D(G(z)))`` and ``L_G = E softplus(-D(G(z)))``,
  plus the R1 penalty ``(gamma / 2) E ||grad_x D(x)||^2`` on real data (Mescheder et al.
  2018; gamma = 1 by default: without it the toy mixtures collapse to a few modes).
- ``wgan-gp`` (Gulrajani et al. 2017, algorithm 1):
  ``L_D = E D(G(z)) - E D(x) + lambda E (||grad D(x_hat)||_2 - 1)^2`` with
  ``x_hat = x + eps (G(z) - x)``, ``eps ~ U[0, 1]``, and ``L_G = -E D(G(z))``;
  ``n_critic`` critic steps per generator step.

Data space: for discrete data the discriminator sees real data dequantized,
``v = (k + u) / K`` (:mod:`genmodels.models.core.dequantize`), and the generator's sigmoid output
lives in the same continuous cube; otherwise the discriminator could tell real from fake by
the 1/(K-1) grid alone, a feature no continuous generator can match. :meth:`GAN.decode`
maps back to data space. The sampler is an exponential moving average of the generator's
weights (Yazici et al. 2019), which smooths the oscillation of the raw iterates.
Networks: DCGAN-style convolutions for images of 16x16 and more, MLPs for smaller images
and points (:func:`resolve_arch`). A GAN has no likelihood; the anomaly score is the
negative discriminator logit.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genmodels.data.base import DatasetInfo
from genmodels.models.core.base import GenerativeModel
from genmodels.models.core.dequantize import dequantize, quantize_back
from genmodels.models.core.registry import register_model
from genmodels.models.gan.config import GANConfig
from genmodels.models.gan.nets import ConvDiscriminator, ConvGenerator, MLPDiscriminator, MLPGenerator

Critic = Callable[[Tensor], Tensor]
MIN_CONV_SIDE = 16  # arch "auto" uses convolutions from this image side up, an MLP below it


def gradient_penalty(critic: Critic, real: Tensor, fake: Tensor, eps: Tensor) -> Tensor:
    """WGAN-GP penalty ``E (||grad D(x_hat)||_2 - 1)^2``, ``x_hat = real + eps (fake - real)``.

    ``eps`` has one value per sample (shape ``(n,)``). The graph is kept when gradients are
    enabled (so the penalty trains the critic); under ``torch.no_grad`` only the value is returned.
    """
    if real.shape != fake.shape or eps.shape != real.shape[:1]:
        raise ValueError(f"gradient_penalty: real {list(real.shape)}, fake {list(fake.shape)} and eps {list(eps.shape)} do not match")
    keep = torch.is_grad_enabled()
    with torch.enable_grad():
        w = eps.view(-1, *([1] * (real.dim() - 1)))
        x_hat = (real + w * (fake - real)).detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=keep)
    return ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()


def r1_logits_and_penalty(critic: Critic, real: Tensor) -> tuple[Tensor, Tensor]:
    """Critic logits on ``real`` and the R1 term ``E ||grad_x D(x)||^2`` (without gamma / 2)."""
    keep = torch.is_grad_enabled()
    with torch.enable_grad():
        x = real.detach().requires_grad_(True)
        logits = critic(x)
        (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=keep)
    return logits, grad.flatten(1).pow(2).sum(1).mean()


def resolve_arch(arch: str, shape: tuple[int, ...]) -> str:
    """``auto`` -> ``conv`` for images with both sides >= :data:`MIN_CONV_SIDE`, else ``mlp``.

    On 8x8 digits a 2 x 512 MLP pair reached a better FID than the conv pair in the same
    CPU time (the convolutions cost about 4x more per step there), so small images use MLPs.
    """
    is_image = len(shape) == 3
    if arch == "conv" and not is_image:
        raise ValueError(f"gan.arch=conv needs image data (C, H, W), got shape {list(shape)}")
    if arch != "auto":
        return arch
    return "conv" if is_image and min(shape[1:]) >= MIN_CONV_SIDE else "mlp"


@register_model("gan")
class GAN(GenerativeModel):
    config_cls = GANConfig
    likelihood_kind = None

    def __init__(self, config: GANConfig, info: DatasetInfo) -> None:
        super().__init__(config, info)
        self.arch = resolve_arch(config.arch, self.data_shape)
        # bounded data (images, discrete levels) are generated through a sigmoid into [0, 1]
        self.bounded = info.kind == "image" or info.levels is not None
        if self.arch == "conv":
            self.generator: nn.Module = ConvGenerator(config.latent_dim, self.data_shape, config.conv_width)
            self.discriminator: nn.Module = ConvDiscriminator(self.data_shape, config.conv_width, config.spectral_norm)
        else:
            hidden = config.hidden or ([512, 512] if len(self.data_shape) == 3 else [128, 128])
            self.generator = MLPGenerator(config.latent_dim, self.data_shape, hidden)
            self.discriminator = MLPDiscriminator(self.data_shape, hidden, config.spectral_norm)
        self.generator_ema: nn.Module | None = None
        if config.ema_decay > 0:
            self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)
        self.register_buffer("ema_steps", torch.zeros((), dtype=torch.long))

    # -- training -----------------------------------------------------------------------
    @property
    def n_critic(self) -> int:
        if self.config.n_critic is not None:
            return self.config.n_critic
        return 5 if self.config.loss == "wgan-gp" else 1

    def optimizer_groups(self) -> dict[str, Iterable[nn.Parameter]]:
        return {"discriminator": self.discriminator.parameters(), "generator": self.generator.parameters()}

    def generate(self, z: Tensor, net: nn.Module | None = None) -> Tensor:
        """Samples in the discriminator's (density) space: sigmoid output for bounded data."""
        out = (self.generator if net is None else net)(z)
        return torch.sigmoid(out) if self.bounded else out

    def _latents(self, n: int, generator: torch.Generator) -> Tensor:
        return torch.randn(n, self.config.latent_dim, generator=generator, device=self.device)

    def discriminator_loss(self, real: Tensor, fake: Tensor, generator: torch.Generator) -> Tensor:
        """``L_D`` of the configured loss on density-space ``real`` and detached ``fake``."""
        cfg, d = self.config, self.discriminator
        if cfg.loss == "wgan-gp":
            eps = torch.rand(len(real), generator=generator, device=real.device, dtype=real.dtype)
            loss = d(fake).mean() - d(real).mean()
            if cfg.gp_weight > 0:
                loss = loss + cfg.gp_weight * gradient_penalty(d, real, fake, eps)
            return loss
        if cfg.r1_weight > 0:
            logits_real, r1 = r1_logits_and_penalty(d, real)
            penalty = 0.5 * cfg.r1_weight * r1
        else:
            logits_real, penalty = d(real), real.new_zeros(())
        return F.softplus(-logits_real).mean() + F.softplus(d(fake)).mean() + penalty

    def generator_loss(self, fake: Tensor) -> Tensor:
        """``L_G``: non-saturating ``E softplus(-D(G(z)))`` or Wasserstein ``-E D(G(z))``."""
        logits = self.discriminator(fake)
        return -logits.mean() if self.config.loss == "wgan-gp" else F.softplus(-logits).mean()

    def training_losses(self, x: Tensor, y: Tensor | None, generator: torch.Generator) -> Iterator[tuple[str, Tensor]]:
        """``n_critic`` discriminator steps, each on its own slice of the batch, then one generator step.

        The slices mirror Gulrajani et al.'s loop, which draws a fresh real batch per critic
        iteration: an epoch shows every real example to the critic exactly once. After the
        generator step (when the trainer resumes this iterator) the sampler's average is updated.
        """
        if tuple(x.shape[1:]) != self.data_shape:
            raise ValueError(f"gan: expected a batch of shape (n, {', '.join(map(str, self.data_shape))}), got {list(x.shape)}")
        k = self.n_critic
        if len(x) < k:
            raise ValueError(f"gan: batch of {len(x)} is smaller than n_critic={k}; use batch_size >= n_critic")
        for chunk in x.tensor_split(k):
            real = dequantize(chunk, self.info.levels, generator)
            with torch.no_grad():
                fake = self.generate(self._latents(len(chunk), generator))
            yield "discriminator", self.discriminator_loss(real, fake, generator)
        fake = self.generate(self._latents(len(x), generator))
        self.discriminator.requires_grad_(False)  # the generator step needs no weight gradients of D
        try:
            yield "generator", self.generator_loss(fake)
        finally:
            self.discriminator.requires_grad_(True)
        if self.training and torch.is_grad_enabled():
            self.update_ema()

    @torch.no_grad()
    def update_ema(self) -> None:
        """``theta_ema <- b theta_ema + (1 - b) theta`` with ``b = min(ema_decay, (1 + t) / (10 + t))``.

        The warm-up makes the average cover roughly the last 10% of a short run instead of
        remembering the random initialisation (t counts generator steps).
        """
        if self.generator_ema is None:
            return
        t = float(self.ema_steps)
        b = min(self.config.ema_decay, (1.0 + t) / (10.0 + t))
        for p_ema, p in zip(self.generator_ema.parameters(), self.generator.parameters()):
            p_ema.lerp_(p, 1.0 - b)
        for b_ema, b_raw in zip(self.generator_ema.buffers(), self.generator.buffers()):
            b_ema.copy_(b_raw)
        self.ema_steps += 1

    # -- generation -----------------------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def decode(self, z: Tensor) -> Tensor:
        """Data-space samples ``(n, *shape)`` from the averaged generator (images in [0, 1])."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"gan.decode: expected latents of shape (n, {self.latent_dim}), got {list(z.shape)}")
        return quantize_back(self.generate(z, self.generator_ema), self.info.levels)

    def sample(self, n: int, generator: torch.Generator, temperature: float = 1.0) -> Tensor:
        """``decode(temperature * z)``, ``z ~ N(0, I)``; temperature < 1 trades diversity for quality."""
        if n < 0:
            raise ValueError(f"gan.sample: n must be >= 0, got {n}")
        if not temperature > 0:
            raise ValueError(f"gan.sample: temperature must be > 0, got {temperature}")
        return self.decode(self._latents(n, generator) * temperature)

    def anomaly_score(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """``-D(x)``: the negative discriminator logit on density-space ``x`` (higher = less real-looking).

        The discriminator was trained to give real data high logits, so inputs unlike the
        training data tend to get low ones; it is a heuristic, not a density.
        """
        if tuple(x.shape[1:]) != self.data_shape:
            raise ValueError(f"gan.anomaly_score: expected shape (n, {', '.join(map(str, self.data_shape))}), got {list(x.shape)}")
        with torch.no_grad():
            return -self.discriminator(x)
