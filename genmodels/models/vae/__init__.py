"""Variational autoencoder family (Kingma & Welling 2014) with learned priors.

Importing the package registers the family's config (pydantic only); the model class (torch)
is imported on first use: ``VAE`` here, or the model registry's lookup."""

from genmodels.models.core.registry import lazy_model_class
from genmodels.models.vae.config import VAEConfig

__all__ = ["VAE", "VAEConfig"]

__getattr__ = lazy_model_class(__name__, "VAE")
