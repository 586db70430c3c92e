"""Shared base of the families fitted in closed form or by their own solver (GMM, KDE, Bayesian network, independent)."""

from __future__ import annotations

import torch
from torch import Tensor

from genmodels.models.core.base import GenerativeModel


class DirectFitModel(GenerativeModel):
    """``direct_fit`` families: state in float64 buffers, a ``fitted`` flag, flat float64 inputs.

    Subclasses register the ``fitted`` boolean buffer and set ``self.dim`` (= prod(shape)).
    """

    direct_fit = True

    def _check_fitted(self) -> None:
        if not bool(self.fitted):
            raise RuntimeError(f"{self.family}: the model is not fitted; call fit_direct (the trainer does) or load a checkpoint")

    def _check_sampling(self, temperature: float) -> None:
        """Fitted, and a temperature >= 0 (0 gives each component's or kernel's centre)."""
        self._check_fitted()
        if temperature < 0:
            raise ValueError(f"{self.family}: temperature must be >= 0, got {temperature}")

    def _flat(self, x: Tensor) -> Tensor:
        if tuple(x.shape[1:]) != self.data_shape:
            raise ValueError(f"{self.family}: expected inputs of shape (n, {', '.join(map(str, self.data_shape))}), got {tuple(x.shape)}")
        return x.reshape(len(x), self.dim).to(torch.float64)
