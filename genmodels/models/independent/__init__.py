"""The ``independent`` baseline: one categorical per dimension over the K levels (exact likelihood).

Importing the package registers the family's config (pydantic only); the model class (torch)
is imported on first use: ``Independent`` here, or the model registry's lookup."""

from typing import Any

from genmodels.models.independent.config import IndependentConfig

__all__ = ["Independent", "IndependentConfig"]


def __getattr__(name: str) -> Any:
    if name == "Independent":
        from genmodels.models.independent.model import Independent

        return Independent
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
