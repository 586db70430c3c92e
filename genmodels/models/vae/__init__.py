"""Variational autoencoder family (Kingma & Welling 2014) with learned priors.

Importing the package registers the family."""

from genmodels.models.vae.model import VAE, VAEConfig

__all__ = ['VAE', 'VAEConfig']
