"""Gaussian mixture baseline (EM), exact likelihood.

Importing the package registers the family's config (pydantic only); the model class (torch)
is imported on first use: ``GMM`` here, or the model registry's lookup."""

from typing import Any

from genmodels.models.gmm.config import GMMConfig

__all__ = ["GMM", "GMMConfig"]


def __getattr__(name: str) -> Any:
    if name == "GMM":
        from genmodels.models.gmm.model import GMM

        return GMM
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
