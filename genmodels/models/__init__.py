"""Model families: the contract, the registry and the built-in families.

Each family is a package ``genmodels/models/<family>/`` whose import registers it; this
module imports every such package, so adding a family is one new folder and nothing here.
DVC makes a model's stages depend on its family's folder, so editing one family reruns only
that family's stages.
"""

import importlib
import pkgutil

from genmodels.models.core.base import GenerativeModel
from genmodels.models.core.registry import MODELS, build_model, model_class, register_model

for _module in pkgutil.iter_modules(__path__):
    if _module.ispkg and _module.name != "core":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["MODELS", "GenerativeModel", "build_model", "model_class", "register_model"]
