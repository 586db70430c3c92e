"""Chow-Liu tree Bayesian network over quantized pixels (exact likelihood).

Importing the package registers the family's config (pydantic only); the model class (torch)
is imported on first use: ``BayesNet`` here, or the model registry's lookup."""

from genmodels.models.core.registry import lazy_model_class
from genmodels.models.bayesnet.config import BayesNetConfig

__all__ = ["BayesNet", "BayesNetConfig"]

__getattr__ = lazy_model_class(__name__, "BayesNet")
