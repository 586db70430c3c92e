"""Normalizing-flow family: multi-scale RealNVP with an exact front end for few-level images.

Importing the package registers the family's config (pydantic only); the model class (torch)
is imported on first use: ``Flow`` here, or the model registry's lookup."""

from typing import Any

from genmodels.models.flow.config import FlowConfig

__all__ = ["Flow", "FlowConfig"]


def __getattr__(name: str) -> Any:
    if name == "Flow":
        from genmodels.models.flow.model import Flow

        return Flow
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
