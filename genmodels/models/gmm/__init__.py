"""Gaussian mixture baseline (EM), exact likelihood.

Importing the package registers the family."""

from genmodels.models.gmm.model import GMM, GMMConfig

__all__ = ['GMM', 'GMMConfig']
