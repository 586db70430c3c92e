"""Restricted Boltzmann machine family: CD-k / PCD training, Gibbs sampling, AIS log Z.

Importing the package registers the family."""

from genmodels.models.rbm.model import RBM, RBMConfig

__all__ = ['RBM', 'RBMConfig']
