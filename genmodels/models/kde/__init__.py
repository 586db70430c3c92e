"""PCA + Gaussian kernel density baseline, exact likelihood.

Importing the package registers the family."""

from genmodels.models.kde.model import KDE, KDEConfig

__all__ = ['KDE', 'KDEConfig']
