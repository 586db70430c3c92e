"""GAN family: generator/discriminator pairs, non-saturating + R1 or WGAN-GP, EMA generator.

Importing the package registers the family."""

from genmodels.models.gan.model import GAN, GANConfig

__all__ = ['GAN', 'GANConfig']
