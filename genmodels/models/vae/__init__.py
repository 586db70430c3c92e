"""Variational autoencoder family (Kingma & Welling 2014) with learned priors.

Importing the package registers the family's config (pydantic only); the model class (torch)
is imported on first use: ``VAE`` here, or the model registry's lookup."""

from typing import Any

from genmodels.models.vae.config import VAEConfig

__all__ = ["VAE", "VAEConfig"]


def __getattr__(name: str) -> Any:
    if name == "VAE":
        from genmodels.models.vae.model import VAE

        return VAE
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
