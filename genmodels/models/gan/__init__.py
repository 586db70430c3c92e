"""GAN family: generator/discriminator pairs, non-saturating + R1 or WGAN-GP, EMA generator.

Importing the package registers the family's config (pydantic only); the model class (torch)
is imported on first use: ``GAN`` here, or the model registry's lookup."""

from genmodels.models.core.registry import lazy_model_class
from genmodels.models.gan.config import GANConfig

__all__ = ["GAN", "GANConfig"]

__getattr__ = lazy_model_class(__name__, "GAN")
