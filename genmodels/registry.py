"""A small typed name -> object registry, and how built-ins are found.

Datasets, model families, metrics and feature extractors each have a registry of this class,
and built-ins register through the same public decorator users get. Built-ins are found one
way for all four: each kind has a package whose ``__init__`` imports every module in it with
``import_modules(__name__)``; each module registers what it defines on import; and the
registry imports its package before any lookup, so it is never found half-filled. Adding a
built-in is one new module in the package (and its test), with no list to edit:

=================  ==================================  =============================
kind               package (modules or subpackages)    decorator
=================  ==================================  =============================
dataset            ``genmodels.data``                   ``register_dataset``
model family       ``genmodels.models``                 ``register_model``
feature extractor  ``genmodels.metrics.extractors``     ``register_feature_extractor``
metric             ``genmodels.metrics.builtin``        ``register_metric``
=================  ==================================  =============================

Importing any module of such a package runs the package's ``__init__`` first, so built-ins
register in module-name order whichever module is imported first.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to objects of one kind; names are unique and checked."""

    def __init__(self, kind: str, package: str | None = None) -> None:
        self.kind = kind
        self.package = package  # the package of the built-ins, imported before any lookup or registration
        self._items: dict[str, T] = {}

    def _import_builtins(self) -> None:
        """Import :attr:`package` (its ``__init__`` imports every built-in module); a no-op once imported."""
        if self.package is not None:
            importlib.import_module(self.package)

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@registry.register("name")``; a name a built-in has taken is an error."""
        if not isinstance(name, str) or not name or name != name.strip():
            raise ValueError(f"{self.kind} name must be a non-empty string, got {name!r}")
        self._import_builtins()

        def add(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = obj
            return obj

        return add

    def get(self, name: str) -> T:
        self._import_builtins()
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise KeyError(f"unknown {self.kind} {name!r} (known: {known})") from None

    def names(self) -> list[str]:
        self._import_builtins()
        return sorted(self._items)

    def ordered(self) -> list[str]:
        """Names in registration order: the built-ins first (their modules imported in name order), then later registrations."""
        self._import_builtins()
        return list(self._items)

    def unregister(self, name: str) -> None:
        self.get(name)  # one clear error for an unknown name
        del self._items[name]

    def __contains__(self, name: object) -> bool:
        self._import_builtins()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def import_modules(package: str) -> tuple[str, ...]:
    """Import every module and subpackage directly inside ``package``, in name order.

    Names starting with ``_`` are private and skipped; subpackages are imported, not walked
    (a subpackage's ``__init__`` decides what it imports). A package calls this from its own
    ``__init__`` as ``import_modules(__name__)``; modules imported already are not run again.
    Returns the full names of the modules, in the order imported.
    """
    module = importlib.import_module(package)
    path = getattr(module, "__path__", None)
    if path is None:
        raise ValueError(f"{package!r} is a module, not a package: there are no modules in it to import")
    names = tuple(f"{package}.{info.name}" for info in sorted(pkgutil.iter_modules(path), key=lambda i: i.name) if not info.name.startswith("_"))
    for name in names:
        importlib.import_module(name)
    return names
