"""Model families: the contract, the registry and the built-in families.

Each family is a package ``genmodels/models/<family>/`` whose import registers it; this
module imports every package of this one (:func:`genmodels.registry.import_modules`, as for
datasets, metrics and feature extractors), so adding a family is one new folder and nothing
here. DVC makes a model's stages depend on its family's folder, so editing one family reruns
only that family's stages (``core``, shared by all, registers nothing).
"""

from genmodels.models.core.base import GenerativeModel
from genmodels.models.core.registry import MODELS, build_model, model_class, register_model
from genmodels.registry import import_modules

import_modules(__name__)

__all__ = ["MODELS", "GenerativeModel", "build_model", "model_class", "register_model"]
