"""Datasets: registry, built-in loaders and the samples-file format.

Every module of this package is imported here, and each loader module registers its
datasets with ``@register_dataset`` on import: a new dataset is one new module, nothing else.
"""

from genmodels.data.base import DatasetInfo, PreparedData
from genmodels.data.registry import DATASETS, load_dataset, register_dataset
from genmodels.data.samples import Samples, read_samples, write_samples
from genmodels.registry import import_modules

__all__ = [
    "DATASETS",
    "DatasetInfo",
    "PreparedData",
    "Samples",
    "load_dataset",
    "read_samples",
    "register_dataset",
    "write_samples",
]

import_modules(__name__)
