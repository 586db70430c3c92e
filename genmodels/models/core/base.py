"""The one contract every generative family implements, so one trainer serves them all.

A model is an ``nn.Module`` built from ``(config, DatasetInfo)``. Training is expressed as
named optimizer groups plus a generator of ``(group, loss)`` pairs: the trainer zeroes,
back-propagates and steps the named group for each pair in order. A VAE or flow yields one
pair; a GAN yields the discriminator's loss and then the generator's (so the generator
sees the updated discriminator); an RBM yields a surrogate whose gradient is the CD-k one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn

from genmodels.configbase import StrictModel
from genmodels.data.base import DatasetInfo
from genmodels.models.core.dequantize import dequantize, draw_in_cells

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

    #: Families fitted in closed form or by their own solver (GMM, KDE, Bayesian network, independent)
    #: set this and implement :meth:`fit_direct`; the trainer then calls it once instead
    #: of running epochs of gradient steps, and checkpoints the result the same way.
    direct_fit: ClassVar[bool] = False

    def fit_direct(self, x: Tensor, y: Tensor | None, generator: torch.Generator) -> dict[str, float]:
        """Fit on the whole training split at once; returns named statistics to log."""
        raise NotImplementedError

    def finish_training(self, x: Tensor, generator: torch.Generator) -> dict[str, float]:
        """Called once on the trained weights (the selected epoch's), on the whole training split,
        before the final checkpoint is written; returns named statistics for the last history row.
        Default: nothing (a VAE may refit its prior here)."""
        return {}

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

    def decode_sample(self, z: Tensor, generator: torch.Generator) -> Tensor:
        """A draw of ``p(x | z)`` in data space: at the data's levels when the model's discrete
        likelihood describes them (a noisy or quantized decoder), else :meth:`decode` (a
        deterministic decoder, e.g. a GAN generator)."""
        return self.decode(z)

    def sample(self, n: int, generator: torch.Generator, temperature: float = 1.0) -> Tensor:
        """Draw ``n`` samples ``(n, *shape)`` in data space (images in [0, 1]); default
        ``decode_sample(sample_latent(...))`` with the same generator."""
        return self.decode_sample(self.sample_latent(n, generator, temperature), generator)

    # -- likelihood -----------------------------------------------------------------------
    def log_likelihood(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """Per-sample log-density in nats of the model's continuous density at ``x``.

        ``x`` is in the model's density space: dequantized data in [0, 1] for discrete
        datasets (see :mod:`genmodels.models.core.dequantize`), raw values for continuous ones.
        """
        raise NotImplementedError(f"{type(self).__name__} has no tractable likelihood")

    #: What :meth:`discrete_log_prob` returns. None: derived from ``likelihood_kind`` — the
    #: default importance-sampling estimator is a stochastic lower bound on ``log P(k)``
    #: (an upper bound on the NLL in expectation), so "exact" and "bound" densities give "bound".
    discrete_kind: ClassVar[LikelihoodKind | None] = None
    #: The density is constant on every level's cell (categorical models, binomial RBMs):
    #: then ``log P(k) = log p(v) - D log K`` at any ``v`` in the cell, with the density's kind.
    cell_constant: ClassVar[bool] = False
    #: Where the density lives: "cube" ([0, 1]^D, e.g. a flow's logit front end) or "real"
    #: (R^D: Gaussian mixtures, KDE). With "real" the outer level cells take the tails, and
    #: the importance-sampling proposal of :meth:`discrete_log_prob` reaches into them.
    density_support: ClassVar[Literal["cube", "real"]] = "cube"

    def discrete_likelihood_kind(self) -> LikelihoodKind | None:
        """The kind of :meth:`discrete_log_prob` (None when the family has no likelihood)."""
        if self.likelihood_kind is None:
            return None
        if self.discrete_kind is not None:
            return self.discrete_kind
        if self.info.levels is None or self.cell_constant:
            return self.likelihood_kind
        return "bound" if self.likelihood_kind in ("exact", "bound") else "estimate"

    @torch.no_grad()
    def discrete_log_prob(self, x: Tensor, generator: torch.Generator, samples: int = 16) -> Tensor:
        """Per-sample ``log P(k)`` in nats of data-space ``x`` (values ``k / (K - 1)``) on the K levels.

        Default: importance sampling over the dequantization noise (Theis et al. 2016; Ho et
        al. 2019 learn the noise): ``P(k) = E_q p(v) / q(v)`` for ``v`` drawn in the cells,
        estimated by ``logmeanexp_s [log p(v_s) - log q(v_s)]`` over ``samples`` draws
        (uniform ``q = K^D`` on [0, 1]^D; see :func:`~genmodels.models.core.dequantize.draw_in_cells`
        for ``density_support = "real"``). By Jensen it is a
        lower bound on ``log P(k)`` in expectation that tightens as ``samples`` grows (Burda
        et al. 2016); ``samples = 1`` is the usual dequantized figure. Families with a closed
        form (CDF differences, categorical models) override this. Continuous data
        (``levels is None``): the density itself.
        """
        levels = self.info.levels
        if levels is None:
            return self.log_likelihood(x, generator)
        dims = math.prod(self.data_shape)
        if self.cell_constant:
            return self.log_likelihood(dequantize(x, levels, None), generator).double() - dims * math.log(levels)
        log_w = []
        for _ in range(samples):
            v, log_q = draw_in_cells(x, levels, generator, tails=self.density_support == "real")
            log_w.append(self.log_likelihood(v, generator).double() - log_q.double())
        return torch.logsumexp(torch.stack(log_w), 0) - math.log(samples)

    def discrete_log_prob_bounds(self, x: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor] | None:
        """Optional sandwich ``(lower, upper)`` on the per-sample ``log P(k)`` of :meth:`discrete_log_prob`.

        For estimated likelihoods whose bias direction is known on each side (the RBM: RAISE
        below, AIS above, both stochastic bounds). The evaluation reports them as
        ``nll_bits_per_dim_high`` and ``nll_bits_per_dim_low``. None: no sandwich.
        """
        return None

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
