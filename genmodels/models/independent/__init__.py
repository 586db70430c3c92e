"""The ``independent`` baseline: one categorical per dimension over the K levels (exact likelihood).

Importing the package registers the family."""

from genmodels.models.independent.model import Independent, IndependentConfig

__all__ = ["Independent", "IndependentConfig"]
