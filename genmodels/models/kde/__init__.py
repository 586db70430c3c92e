"""PCA + Gaussian kernel density baseline, exact likelihood.

Importing the package registers the family's config (pydantic only); the model class (torch)
is imported on first use: ``KDE`` here, or the model registry's lookup."""

from typing import Any

from genmodels.models.kde.config import KDEConfig

__all__ = ["KDE", "KDEConfig"]


def __getattr__(name: str) -> Any:
    if name == "KDE":
        from genmodels.models.kde.model import KDE

        return KDE
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
