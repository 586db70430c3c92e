"""GAN family: generator/discriminator pairs, non-saturating + R1 or WGAN-GP, EMA generator.

Importing the package registers the family's config (pydantic only); the model class (torch)
is imported on first use: ``GAN`` here, or the model registry's lookup."""

from typing import Any

from genmodels.models.gan.config import GANConfig

__all__ = ["GAN", "GANConfig"]


def __getattr__(name: str) -> Any:
    if name == "GAN":
        from genmodels.models.gan.model import GAN

        return GAN
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
