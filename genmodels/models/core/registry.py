"""Model registry: ``@register_model("name")`` on a :class:`GenerativeModel` subclass."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genmodels.configbase import validate
from genmodels.data.base import DatasetInfo
from genmodels.models.core.base import GenerativeModel
from genmodels.registry import Registry

MODELS: Registry[type[GenerativeModel]] = Registry("model family", package="genmodels.models")


def register_model(name: str) -> Callable[[type[GenerativeModel]], type[GenerativeModel]]:
    def add(cls: type[GenerativeModel]) -> type[GenerativeModel]:
        if not (isinstance(cls, type) and issubclass(cls, GenerativeModel)):
            raise TypeError(f"model {name!r} must subclass GenerativeModel")
        if not hasattr(cls, "config_cls"):
            raise TypeError(f"model {name!r} must set config_cls")
        cls.family = name  # type: ignore[attr-defined]
        return MODELS.register(name)(cls)

    return add


def model_class(family: str) -> type[GenerativeModel]:
    return MODELS.get(family)


def build_model(family: str, config: dict[str, Any] | Any, info: DatasetInfo, key: str = "model") -> GenerativeModel:
    """Instantiate a family from a config mapping (validated) or a config object."""
    cls = model_class(family)
    cfg = config if isinstance(config, cls.config_cls) else validate(cls.config_cls, config, key)
    return cls(cfg, info)
