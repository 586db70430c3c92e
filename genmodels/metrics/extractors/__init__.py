"""Built-in feature extractors: every module of this package is imported here, and each
registers its extractor with ``@register_feature_extractor`` on import (helper modules such as
``inception_blocks`` register nothing). A new extractor is one new module, nothing else."""

from genmodels.registry import import_modules

import_modules(__name__)
