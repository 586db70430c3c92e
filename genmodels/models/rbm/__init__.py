"""Restricted Boltzmann machine family: CD-k / PCD training, Gibbs sampling, AIS log Z.

Importing the package registers the family's config (pydantic only); the model class (torch)
is imported on first use: ``RBM`` here, or the model registry's lookup."""

from typing import Any

from genmodels.models.rbm.config import RBMConfig

__all__ = ["RBM", "RBMConfig"]


def __getattr__(name: str) -> Any:
    if name == "RBM":
        from genmodels.models.rbm.model import RBM

        return RBM
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
