"""Datasets: registry, built-in loaders and the samples-file format."""

# Built-in loaders register themselves on import.
from genmodels.data import cifar10, digits, folder, idx, mnist5k, shapes, toy2d  # noqa: E402,F401
from genmodels.data.base import DatasetInfo, PreparedData
from genmodels.data.registry import DATASETS, load_dataset, register_dataset
from genmodels.data.samples import Samples, read_samples, write_samples

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
