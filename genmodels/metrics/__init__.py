"""Sample-quality metrics: pure functions on feature arrays (numpy or torch).

Definitions and defaults follow torch-fidelity (see docs/design.md, "Metrics").
Only torch, numpy and scipy are imported here; a new module's public names go into ``_LAZY``.

The functions are imported on first use (module ``__getattr__``), so that the typed configs
(:mod:`genmodels.metrics.config`, read by ``genmodels.config``) load without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

# ``inception_score`` is also the name of its module: bound here, once, so that the package
# attribute is the function whichever of the two is imported first (the module imports no torch).
from genmodels.metrics.inception_score import inception_score

_LAZY = {  # name -> the module that defines it
    "feature_statistics": "fid",
    "fid_from_features": "fid",
    "frechet_distance": "fid",
    "SubsetKernelSums": "kid",
    "kid_from_features": "kid",
    "normalized_activation_distance": "ppl",
    "perceptual_path_length": "ppl",
    "squared_euclidean_distance": "ppl",
    "prdc_from_features": "prdc",
}
_SUBMODULES = ("fid", "kid", "ppl", "prdc")  # attributes of the package since it imported them eagerly

__all__ = [
    "SubsetKernelSums",
    "feature_statistics",
    "fid_from_features",
    "frechet_distance",
    "inception_score",
    "kid_from_features",
    "normalized_activation_distance",
    "perceptual_path_length",
    "prdc_from_features",
    "squared_euclidean_distance",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBMODULES})
