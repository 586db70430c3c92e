"""The ``independent`` baseline: one categorical per dimension over the K levels (exact likelihood).

Importing the package registers the family's config (pydantic only); the model class (torch)
is imported on first use: ``Independent`` here, or the model registry's lookup."""

from genmodels.models.core.registry import lazy_model_class
from genmodels.models.independent.config import IndependentConfig

__all__ = ["Independent", "IndependentConfig"]

__getattr__ = lazy_model_class(__name__, "Independent")
