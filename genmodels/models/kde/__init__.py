"""PCA + Gaussian kernel density baseline, exact likelihood.

Importing the package registers the family's config (pydantic only); the model class (torch)
is imported on first use: ``KDE`` here, or the model registry's lookup."""

from genmodels.models.core.registry import lazy_model_class
from genmodels.models.kde.config import KDEConfig

__all__ = ["KDE", "KDEConfig"]

__getattr__ = lazy_model_class(__name__, "KDE")
