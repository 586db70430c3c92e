"""Model families: the contract, the registry and the built-in families.

Each family is a package ``genmodels/models/<family>/`` whose import registers it; this
module imports every package of this one (:func:`genmodels.registry.import_modules`, as for
datasets, metrics and feature extractors), so adding a family is one new folder and nothing
here. A family package imports only its config (pydantic); its model class (torch) is
imported on first lookup (:mod:`genmodels.models.core.registry`). DVC makes a model's stages
depend on its family's folder, so editing one family reruns only that family's stages
(``core``, shared by all, registers nothing).
"""

from typing import Any

from genmodels.models.core.registry import MODEL_CONFIGS, MODELS, build_model, model_class, model_config, register_model, register_model_config
from genmodels.registry import import_modules

import_modules(__name__)

__all__ = ["MODELS", "MODEL_CONFIGS", "GenerativeModel", "build_model", "model_class", "model_config", "register_model", "register_model_config"]


def __getattr__(name: str) -> Any:
    """``GenerativeModel`` (torch) is imported when first asked for."""
    if name == "GenerativeModel":
        from genmodels.models.core.base import GenerativeModel

        return GenerativeModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
