"""Latent priors ``p(z)`` of the VAE as small strategy objects, one class per ``VAEConfig.prior``.

* :class:`StandardNormalPrior`: ``N(0, I)`` (Kingma & Welling 2014), whose KL term has a
  closed form: ``KL(N(mu, s^2) || N(0, I)) = 1/2 sum (mu^2 + s^2 - 1 - log s^2)``.
* :class:`MixturePrior`: a learned diagonal Gaussian mixture
  (:class:`~genmodels.models.core.priors.GaussianMixturePrior`).
* :class:`VampPrior` (Tomczak & Welling 2018): ``p(z) = (1/K) sum_k q(z | u_k)``, the
  encoder applied to ``K`` learned pseudo-inputs ``u_k``.
* :class:`RefitPrior` (``refit_prior`` > 0): one of the above while training, then a
  full-covariance mixture fitted by EM to the aggregate posterior.

A learned prior's KL term is the one-sample estimate ``log q(z|v) - log p(z)`` at the
reparameterised ``z`` (:meth:`LatentPrior.kl`). A strategy holds no tensors of its own:
:meth:`LatentPrior.attach` registers the learned parameters on the VAE under the names
checkpoints have always used (``prior_mixture.*``, ``pseudo_inputs``) and the strategy reads
them from there at every call, so ``load_state_dict(assign=True)`` and ``.to()`` are seen.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from genmodels.models.core.mixture import gaussian_mixture_log_density, gaussian_mixture_sample, sklearn_seed
from genmodels.models.core.priors import GaussianMixturePrior, mixture_log_density, mixture_sample

LOG_2PI = math.log(2 * math.pi)

#: Means, log standard deviations ``(K, D)`` and log weights ``(K,)`` of a mixture prior.
Components = tuple[Tensor, Tensor, Tensor]
#: The VAE's encoder: data ``(n, *shape)`` -> posterior means and log standard deviations ``(n, D)``.
Encoder = Callable[[Tensor], tuple[Tensor, Tensor]]


@dataclass(frozen=True)
class PriorSpec:
    """What a prior needs from the VAE's config and data: ``K`` and the shapes involved."""

    latent_dim: int
    components: int  # K: mixture components or VampPrior pseudo-inputs
    data_shape: tuple[int, ...]
    bounded: bool  # data in [0, 1]: pseudo-inputs pass through a sigmoid


class LatentPrior(ABC):
    """``p(z)``: its density, its draws and the KL term of the ELBO."""

    #: Whether ``p(z) = N(0, I)`` (PPL then slerps between draws; see ``GenerativeModel.gaussian_latent``).
    standard_normal: ClassVar[bool] = False

    @classmethod
    @abstractmethod
    def attach(cls, owner: nn.Module, spec: PriorSpec, encode: Encoder) -> LatentPrior:
        """Register the prior's learned parameters on ``owner`` (the VAE) and return the strategy."""

    def components(self) -> Components | None:
        """The mixture's components (:data:`Components`), or None for ``N(0, I)``."""
        return None

    @abstractmethod
    def log_prob(self, z: Tensor, components: Components | None = None) -> Tensor:
        """``log p(z)`` over the last dim; ``components``: :meth:`components` when the caller has them."""

    @abstractmethod
    def sample(self, n: int, generator: torch.Generator, temperature: float = 1.0) -> Tensor:
        """``n`` draws ``(n, D)`` at temperature ``T``, on the generator's device."""

    def kl(self, mu: Tensor, log_std: Tensor, eps: Tensor, z: Tensor) -> Tensor:
        """Per-row KL term at ``z = mu + eps * exp(log_std)``: the one-sample estimate
        ``log q(z|v) - log p(z)`` (Kingma & Welling 2014, eq. 6)."""
        return (-0.5 * (eps**2 + LOG_2PI) - log_std).sum(1) - self.log_prob(z)


class StandardNormalPrior(LatentPrior):
    """``p(z) = N(0, I)``: closed-form KL, draws ``T eps``."""

    standard_normal = True

    def __init__(self, dim: int) -> None:
        self.dim = dim

    @classmethod
    def attach(cls, owner: nn.Module, spec: PriorSpec, encode: Encoder) -> StandardNormalPrior:
        return cls(spec.latent_dim)

    def log_prob(self, z: Tensor, components: Components | None = None) -> Tensor:
        return (-0.5 * (z**2 + LOG_2PI)).sum(-1)

    def sample(self, n: int, generator: torch.Generator, temperature: float = 1.0) -> Tensor:
        return torch.randn(n, self.dim, generator=generator, device=generator.device) * temperature

    def kl(self, mu: Tensor, log_std: Tensor, eps: Tensor, z: Tensor) -> Tensor:
        """``KL(N(mu, s^2) || N(0, I)) = 1/2 sum (mu^2 + s^2 - 1 - 2 log s)`` (Kingma & Welling 2014, app. B)."""
        return 0.5 * (mu**2 + (2 * log_std).exp() - 1 - 2 * log_std).sum(1)


class _MixtureFamily(LatentPrior):
    """A prior that is a diagonal Gaussian mixture: log-sum-exp density, draws ``k ~ w``, ``m_k + T s_k eps``."""

    @abstractmethod
    def components(self) -> Components: ...

    def log_prob(self, z: Tensor, components: Components | None = None) -> Tensor:
        return mixture_log_density(z, *(components or self.components()))

    def sample(self, n: int, generator: torch.Generator, temperature: float = 1.0) -> Tensor:
        return mixture_sample(n, *self.components(), generator, temperature)


class MixturePrior(_MixtureFamily):
    """``p(z) = sum_k w_k N(z; m_k, diag s_k^2)`` with learned ``m``, ``s``, ``w`` (the ``prior_mixture`` submodule)."""

    MODULE = "prior_mixture"

    def __init__(self, mixture: GaussianMixturePrior) -> None:
        self.mixture = mixture

    @classmethod
    def attach(cls, owner: nn.Module, spec: PriorSpec, encode: Encoder) -> MixturePrior:
        mixture = GaussianMixturePrior(spec.components, spec.latent_dim)
        owner.add_module(cls.MODULE, mixture)
        return cls(mixture)

    def components(self) -> Components:
        return self.mixture.components()


class VampPrior(_MixtureFamily):
    """VampPrior (Tomczak & Welling 2018, eq. 9): ``p(z) = (1/K) sum_k q(z | u_k)``.

    The pseudo-inputs are ``u_k = sigmoid(a_k)`` in [0, 1] for bounded data (raw ``a_k``
    otherwise), with ``a_k`` the owner's parameter ``pseudo_inputs`` of shape ``(K, *data_shape)``.
    """

    PARAMETER = "pseudo_inputs"

    def __init__(self, owner: nn.Module, encode: Encoder, bounded: bool) -> None:
        self.owner = owner
        self.encode = encode
        self.bounded = bounded

    @classmethod
    def attach(cls, owner: nn.Module, spec: PriorSpec, encode: Encoder) -> VampPrior:
        owner.register_parameter(cls.PARAMETER, nn.Parameter(0.1 * torch.randn(spec.components, *spec.data_shape)))
        return cls(owner, encode, spec.bounded)

    def pseudo_inputs(self) -> Tensor:
        """``u_k``, shape ``(K, *data_shape)``."""
        raw = getattr(self.owner, self.PARAMETER)
        return torch.sigmoid(raw) if self.bounded else raw

    def components(self) -> Components:
        mu, log_std = self.encode(self.pseudo_inputs())
        return mu, log_std, torch.full((len(mu),), -math.log(len(mu)), device=mu.device)


#: ``VAEConfig.prior`` -> strategy class.
PRIORS: dict[str, type[LatentPrior]] = {"standard": StandardNormalPrior, "mixture": MixturePrior, "vamp": VampPrior}


def attach_prior(kind: str, owner: nn.Module, spec: PriorSpec, encode: Encoder) -> LatentPrior:
    """Build the ``kind`` prior for ``owner``, registering its parameters there."""
    return PRIORS[kind].attach(owner, spec, encode)


class RefitPrior(LatentPrior):
    """The trained prior until :meth:`fit` runs, then a full-covariance Gaussian mixture fitted to
    the aggregate posterior ``q(z) = (1/N) sum_n q(z | x_n)`` (ex-post density estimation,
    Ghosh et al. 2020, sec. 4; the second stage of Dai & Wipf 2019). A learned prior trained
    through the ELBO's KL term matches ``q(z)`` only as far as its form and the encoder's
    compromise allow; a mixture fitted afterwards by EM to draws of ``q(z)`` leaves fewer
    regions where the prior has mass and the decoder was never trained (digits, MLP, beta 0.7: validation
    FID 6.1 -> 2.9 at the same decoder, validation NLL 1.963 -> 1.956 bits/dim).

    The mixture lives in the owner's buffers ``refit_log_weights`` (K,), ``refit_means``
    (K, D), ``refit_prec_chol`` (K, D, D) (scikit-learn's precision Cholesky factors,
    :mod:`genmodels.models.core.mixture`) and ``refit_fitted``, float64.
    """

    def __init__(self, owner: nn.Module, trained: LatentPrior) -> None:
        self.owner = owner
        self.trained = trained

    @classmethod
    def attach(cls, owner: nn.Module, spec: PriorSpec, encode: Encoder, trained: LatentPrior | None = None, components: int = 1) -> RefitPrior:  # type: ignore[override]
        k, d, f64 = components, spec.latent_dim, torch.float64
        owner.register_buffer("refit_log_weights", torch.full((k,), -math.log(k), dtype=f64))
        owner.register_buffer("refit_means", torch.zeros(k, d, dtype=f64))
        owner.register_buffer("refit_prec_chol", torch.eye(d, dtype=f64).expand(k, d, d).clone())
        owner.register_buffer("refit_fitted", torch.zeros((), dtype=torch.bool))
        return cls(owner, trained if trained is not None else StandardNormalPrior(d))

    @property
    def fitted(self) -> bool:
        return bool(self.owner.refit_fitted)

    def _mixture(self) -> tuple[Tensor, Tensor, Tensor]:
        return self.owner.refit_log_weights, self.owner.refit_means, self.owner.refit_prec_chol

    def components(self) -> Components | None:
        return None if self.fitted else self.trained.components()

    def log_prob(self, z: Tensor, components: Components | None = None) -> Tensor:
        if not self.fitted:
            return self.trained.log_prob(z, components)
        flat = z.reshape(-1, z.shape[-1]).double()
        return gaussian_mixture_log_density(flat, *self._mixture()).view(z.shape[:-1]).to(z.dtype)

    def sample(self, n: int, generator: torch.Generator, temperature: float = 1.0) -> Tensor:
        if not self.fitted:
            return self.trained.sample(n, generator, temperature)
        return gaussian_mixture_sample(n, *self._mixture(), generator, temperature).float()

    def kl(self, mu: Tensor, log_std: Tensor, eps: Tensor, z: Tensor) -> Tensor:
        return super().kl(mu, log_std, eps, z) if self.fitted else self.trained.kl(mu, log_std, eps, z)

    @torch.no_grad()
    def fit(self, z: Tensor, generator: torch.Generator, reg_covar: float = 1e-4) -> dict[str, float]:
        """EM (scikit-learn's ``GaussianMixture``, full covariances) on aggregate-posterior draws ``z`` (n, D)."""
        from sklearn.mixture import GaussianMixture

        log_w, means, prec = self._mixture()
        gm = GaussianMixture(len(means), covariance_type="full", reg_covar=reg_covar, max_iter=500, random_state=sklearn_seed(generator))
        gm.fit(z.double().cpu().numpy())
        log_w.copy_(torch.as_tensor(np.log(gm.weights_)))
        means.copy_(torch.as_tensor(gm.means_))
        prec.copy_(torch.as_tensor(gm.precisions_cholesky_))
        self.owner.refit_fitted.fill_(True)
        return {"prior_refit_iterations": float(gm.n_iter_), "prior_refit_converged": float(gm.converged_), "prior_refit_mean_log_likelihood": float(gm.score(z.double().cpu().numpy()))}
