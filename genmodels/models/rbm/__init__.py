"""Restricted Boltzmann machine family: CD-k / PCD training, Gibbs sampling, AIS log Z.

Importing the package registers the family's config (pydantic only); the model class (torch)
is imported on first use: ``RBM`` here, or the model registry's lookup."""

from genmodels.models.core.registry import lazy_model_class
from genmodels.models.rbm.config import RBMConfig

__all__ = ["RBM", "RBMConfig"]

__getattr__ = lazy_model_class(__name__, "RBM")
