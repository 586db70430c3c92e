"""Chow-Liu tree Bayesian network over quantized pixels (exact likelihood).

Importing the package registers the family's config (pydantic only); the model class (torch)
is imported on first use: ``BayesNet`` here, or the model registry's lookup."""

from typing import Any

from genmodels.models.bayesnet.config import BayesNetConfig

__all__ = ["BayesNet", "BayesNetConfig"]


def __getattr__(name: str) -> Any:
    if name == "BayesNet":
        from genmodels.models.bayesnet.model import BayesNet

        return BayesNet
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
