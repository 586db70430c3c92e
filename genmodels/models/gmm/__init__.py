"""Gaussian mixture baseline (EM), exact likelihood.

Importing the package registers the family's config (pydantic only); the model class (torch)
is imported on first use: ``GMM`` here, or the model registry's lookup."""

from genmodels.models.core.registry import lazy_model_class
from genmodels.models.gmm.config import GMMConfig

__all__ = ["GMM", "GMMConfig"]

__getattr__ = lazy_model_class(__name__, "GMM")
