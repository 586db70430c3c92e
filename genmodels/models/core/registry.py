"""Model registry: ``@register_model("name")`` on a :class:`GenerativeModel` subclass, and each
family's typed config.

A family has two registered parts: its config class (:data:`MODEL_CONFIGS`, pydantic only)
and its model class (:data:`MODELS`, torch). Both are found the one way every built-in is
(``genmodels.models`` imports each family package). A built-in family package imports only
its ``config`` module, whose class carries ``@register_model_config("name")``; the model class,
in the ``model`` module beside it, is imported the first time it is looked up. So validating
params (``model_config``) never imports torch, and a stage that builds one model imports that
family's model module only. ``@register_model`` on a class registers both parts at once (its
``config_cls`` as the family's config): a family defined in one module needs nothing else.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from genmodels.configbase import StrictModel, validate
from genmodels.registry import Registry

if TYPE_CHECKING:
    from genmodels.data.base import DatasetInfo
    from genmodels.models.core.base import GenerativeModel

PACKAGE = "genmodels.models"
MODEL_CONFIGS: Registry[type[StrictModel]] = Registry("model family", package=PACKAGE)
_MODEL_MODULES: dict[str, str] = {}  # family -> the module defining its model class (config-first families)


class ModelRegistry(Registry["type[GenerativeModel]"]):
    """Model classes by family name; a config-first family's ``model`` module is imported on its first lookup."""

    def _import_model(self, name: str) -> None:
        module = _MODEL_MODULES.get(name)
        if module is None or name in self._items:
            return
        importlib.import_module(module)
        if name not in self._items:
            raise ValueError(f"model family {name!r}: {module} defines no model class with @register_model({name!r})")

    def _import_all(self) -> None:
        self._import_builtins()
        for name in MODEL_CONFIGS.ordered():
            self._import_model(name)

    def get(self, name: str) -> type[GenerativeModel]:
        MODEL_CONFIGS.get(name)  # an unknown name: one error listing every family, none of their model modules imported
        self._import_model(name)
        return super().get(name)

    def names(self) -> list[str]:
        self._import_all()
        return super().names()

    def ordered(self) -> list[str]:
        """Names in the order their configs registered (built-ins in module-name order, then later ones)."""
        self._import_all()
        return [n for n in MODEL_CONFIGS.ordered() if n in self._items]

    def unregister(self, name: str) -> None:
        super().unregister(name)
        MODEL_CONFIGS.unregister(name)
        _MODEL_MODULES.pop(name, None)

    def __contains__(self, name: object) -> bool:
        self._import_all()
        return super().__contains__(name)


MODELS = ModelRegistry("model family", package=PACKAGE)


def register_model_config(name: str) -> Callable[[type[StrictModel]], type[StrictModel]]:
    """Decorator on a family's config class in ``<package>/config.py``; its model class is
    ``@register_model(name)`` in ``<package>/model.py``, imported when first looked up."""

    def add(cls: type[StrictModel]) -> type[StrictModel]:
        if not (isinstance(cls, type) and issubclass(cls, StrictModel)):
            raise TypeError(f"model config {name!r} must subclass StrictModel")
        MODEL_CONFIGS.register(name)(cls)
        _MODEL_MODULES[name] = f"{cls.__module__.rpartition('.')[0]}.model"
        return cls

    return add


def register_model(name: str) -> Callable[[type[GenerativeModel]], type[GenerativeModel]]:
    def add(cls: type[GenerativeModel]) -> type[GenerativeModel]:
        from genmodels.models.core.base import GenerativeModel  # torch: the class being registered imported it already

        if not (isinstance(cls, type) and issubclass(cls, GenerativeModel)):
            raise TypeError(f"model {name!r} must subclass GenerativeModel")
        if not hasattr(cls, "config_cls"):
            raise TypeError(f"model {name!r} must set config_cls")
        if name in MODEL_CONFIGS._items and MODEL_CONFIGS._items[name] is not cls.config_cls:
            raise ValueError(f"model {name!r}: config_cls is not the registered config {MODEL_CONFIGS._items[name].__name__}")
        MODEL_CONFIGS.register(name)(cls.config_cls)
        cls.family = name  # type: ignore[attr-defined]
        return MODELS.register(name)(cls)

    return add


def model_config(family: str) -> type[StrictModel]:
    """The family's config class; imports no model code for a config-first family."""
    return MODEL_CONFIGS.get(family)


def model_class(family: str) -> type[GenerativeModel]:
    return MODELS.get(family)


def build_model(family: str, config: dict[str, Any] | Any, info: DatasetInfo, key: str = "model") -> GenerativeModel:
    """Instantiate a family from a config mapping (validated) or a config object."""
    cls = model_class(family)
    cfg = config if isinstance(config, cls.config_cls) else validate(cls.config_cls, config, key)
    return cls(cfg, info)


def lazy_model_class(package: str, class_name: str) -> Callable[[str], Any]:
    """A family package's module ``__getattr__``: ``<package>.<class_name>`` imports the family's
    ``model`` module (torch) on first use, so importing the package loads only its config."""

    def __getattr__(name: str) -> Any:
        if name == class_name:
            return getattr(importlib.import_module(f"{package}.model"), class_name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
