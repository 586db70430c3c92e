"""Dataset registry: ``@register_dataset("name")`` on a loader ``(cfg, seed) -> PreparedData``."""

from __future__ import annotations

from collections.abc import Callable

from genmodels.data.base import PreparedData
from genmodels.data.config import DataConfig
from genmodels.errors import ConfigError
from genmodels.registry import Registry

Loader = Callable[[DataConfig, int], PreparedData]
DATASETS: Registry[Loader] = Registry("dataset")


def register_dataset(name: str) -> Callable[[Loader], Loader]:
    return DATASETS.register(name)


def load_dataset(cfg: DataConfig, seed: int) -> PreparedData:
    """Load the configured dataset (deterministic for a given seed)."""
    import genmodels.data  # noqa: F401  (registers the built-in loaders)

    if cfg.name not in DATASETS:
        raise ConfigError(f"data.name: unknown dataset {cfg.name!r} (known: {', '.join(DATASETS.names())})")
    return DATASETS.get(cfg.name)(cfg, seed)
