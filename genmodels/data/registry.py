"""Dataset registry: ``@register_dataset("name")`` on a loader ``(cfg, seed) -> PreparedData``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from genmodels.data.base import PreparedData
from genmodels.data.config import DataConfig
from genmodels.data.split import stratified_split
from genmodels.errors import ConfigError
from genmodels.registry import Registry

Loader = Callable[[DataConfig, int], PreparedData]
DATASETS: Registry[Loader] = Registry("dataset", package="genmodels.data")


def register_dataset(name: str) -> Callable[[Loader], Loader]:
    return DATASETS.register(name)


def check_dataset_name(name: str) -> None:
    """ConfigError naming ``data.name`` and the known datasets when ``name`` is not registered."""
    if name not in DATASETS:
        raise ConfigError(f"data.name: unknown dataset {name!r} (known: {', '.join(DATASETS.names())})")


def load_dataset(cfg: DataConfig, seed: int) -> PreparedData:
    """Load the configured dataset with its three splits (deterministic for a given seed).

    Loaders return train and test; the validation split is then held out of train here,
    seeded and stratified by label, so every dataset gets one the same way.
    """
    check_dataset_name(cfg.name)
    data = DATASETS.get(cfg.name)(cfg, seed)
    if len(data.train) < 4:
        raise ConfigError(f"data: {len(data.train)} training samples are too few to hold out a validation split")
    train, val = stratified_split(data.train.x, data.train.y, cfg.val_fraction, seed + 1)
    return replace(data, train=train, val=val)
