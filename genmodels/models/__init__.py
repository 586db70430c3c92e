"""Model families: the contract, the registry and the built-in families."""

from genmodels.models.base import GenerativeModel
from genmodels.models.registry import MODELS, build_model, model_class, register_model

# Built-in families register themselves on import.
from genmodels.models import bayesnet, flow, gan, gmm, kde, rbm, vae  # noqa: E402,F401

__all__ = ["MODELS", "GenerativeModel", "build_model", "model_class", "register_model"]
