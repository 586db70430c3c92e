"""Chow-Liu tree Bayesian network over quantized pixels (exact likelihood).

Importing the package registers the family."""

from genmodels.models.bayesnet.model import BayesNet, BayesNetConfig

__all__ = ['BayesNet', 'BayesNetConfig']
