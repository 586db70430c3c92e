"""Normalizing-flow family: multi-scale RealNVP with an exact front end for few-level images.

Importing the package registers the family's config (pydantic only); the model class (torch)
is imported on first use: ``Flow`` here, or the model registry's lookup."""

from genmodels.models.core.registry import lazy_model_class
from genmodels.models.flow.config import FlowConfig

__all__ = ["Flow", "FlowConfig"]

__getattr__ = lazy_model_class(__name__, "Flow")
