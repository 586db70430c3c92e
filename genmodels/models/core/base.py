"""The one contract every generative family implements, so one trainer serves them all.

A model is an ``nn.Module`` built from ``(config, DatasetInfo)``. Training is expressed as
named optimizer groups plus a generator of ``(group, loss)`` pairs: the trainer zeroes,
back-propagates and steps the named group for each pair in order. A VAE or flow yields one
pair; a GAN yields the discriminator's loss and then the generator's (so the generator
sees the updated discriminator); an RBM yields a surrogate whose gradient is the CD-k one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn

from genmodels.configbase import StrictModel
from genmodels.data.base import DatasetInfo

LikelihoodKind = Literal["exact", "bound", "estimate"]


class GenerativeModel(nn.Module):
    """Base class of all families. Subclasses set ``config_cls`` and implement the hooks."""

    config_cls: ClassVar[type[StrictModel]]
    #: What ``log_likelihood`` returns: exact, a lower bound, a stochastic estimate; None if absent.
    likelihood_kind: ClassVar[LikelihoodKind | None] = None

    def __init__(self, config: StrictModel, info: DatasetInfo) -> None:
        super().__init__()
        self.config = config
        self.info = info
        self.data_shape = tuple(info.shape)

    # -- training -----------------------------------------------------------------------
    def optimizer_groups(self) -> dict[str, Iterable[nn.Parameter]]:
        """Named parameter groups, one optimizer each. Default: one group of everything."""
        return {"model": self.parameters()}

    def training_losses(self, x: Tensor, y: Tensor | None, generator: torch.Generator) -> Iterator[tuple[str, Tensor]]:
        """Yield ``(group, scalar loss)`` pairs for one batch, in update order."""
        raise NotImplementedError

    #: Families fitted in closed form or by their own solver (GMM, KDE, Bayesian network)
    #: set this and implement :meth:`fit_direct`; the trainer then calls it once instead
    #: of running epochs of gradient steps, and checkpoints the result the same way.
    direct_fit: ClassVar[bool] = False

    def fit_direct(self, x: Tensor, y: Tensor | None, generator: torch.Generator) -> dict[str, float]:
        """Fit on the whole training split at once; returns named statistics to log."""
        raise NotImplementedError

    #: Names of this module's buffers whose shape is learned from data (e.g. a KDE's
    #: support points); loading a state dict resizes them instead of failing.
    resizable_buffers: ClassVar[tuple[str, ...]] = ()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        for name in self.resizable_buffers:
            key = prefix + name
            if key in state_dict and name in self._buffers:
                self._buffers[name] = torch.empty_like(state_dict[key], device=self.device)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def evaluation_extras(self) -> dict[str, float]:
        """Extra numbers the evaluation should record (e.g. the AIS standard error of log Z)."""
        return {}

    # -- generation -----------------------------------------------------------------------
    @property
    def latent_dim(self) -> int | None:
        """Size of the latent that :meth:`decode` maps to data, or None."""
        return None

    @property
    def gaussian_latent(self) -> bool:
        """Whether the latent prior is ``N(0, I)`` (PPL then slerps between its draws)."""
        return True

    def sample_latent(self, n: int, generator: torch.Generator, temperature: float = 1.0) -> Tensor:
        """Draw ``n`` latents from the prior at temperature ``T``; default ``N(0, T^2 I)``."""
        if self.latent_dim is None:
            raise NotImplementedError(f"{type(self).__name__} has no latent decoder")
        return torch.randn(n, self.latent_dim, generator=generator, device=self.device) * temperature

    @property
    def continuous_decoder(self) -> bool:
        """Whether :meth:`decode` is continuous in ``z`` (PPL is defined only then)."""
        return True

    def decode(self, z: Tensor) -> Tensor:
        """Map latents ``(n, latent_dim)`` to samples ``(n, *shape)`` in data space."""
        raise NotImplementedError(f"{type(self).__name__} has no latent decoder")

    def sample(self, n: int, generator: torch.Generator, temperature: float = 1.0) -> Tensor:
        """Draw ``n`` samples ``(n, *shape)`` in data space (images in [0, 1]); default ``decode(sample_latent(...))``."""
        return self.decode(self.sample_latent(n, generator, temperature))

    # -- likelihood -----------------------------------------------------------------------
    def log_likelihood(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """Per-sample log-density in nats of the model's continuous density at ``x``.

        ``x`` is in the model's density space: dequantized data in [0, 1] for discrete
        datasets (see :mod:`genmodels.models.core.dequantize`), raw values for continuous ones.
        """
        raise NotImplementedError(f"{type(self).__name__} has no tractable likelihood")

    def anomaly_score(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """Higher means more anomalous; default: negative log-likelihood."""
        return -self.log_likelihood(x, generator)

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        for b in self.buffers():
            return b.device
        return torch.device("cpu")
