"""The built-in restorers, one module per model family; each registers with ``@register_restorer``."""

from genmodels.registry import import_modules

import_modules(__name__)
