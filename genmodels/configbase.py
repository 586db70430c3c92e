"""Base class of every typed config: unknown keys and bad values are errors."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from genmodels.errors import ConfigError


class StrictModel(BaseModel):
    """Pydantic model that forbids unknown keys and never coerces silently across types."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def key_text(key: Any) -> str:
    """A key as messages show it: as written when it prints on one line, else its repr (``'\\n'``)."""
    text = str(key)
    return text if text and text.isprintable() and text.strip() == text else repr(key)


def _sibling_keys(cls: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the config class that holds the key at ``loc`` (empty when unknown)."""
    model: type[BaseModel] = cls
    for part in loc[:-1]:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return []
        inner = [t for t in (field.annotation, *getattr(field.annotation, "__args__", ())) if isinstance(t, type) and issubclass(t, BaseModel)]
        if not inner:
            return []
        model = inner[0]
    return list(model.model_fields)


def format_validation_error(exc: ValidationError, prefix: str = "", cls: type[BaseModel] | None = None) -> str:
    """One line naming the first offending key (dotted path) and the problem."""
    err = exc.errors()[0]
    inner = (err.get("ctx") or {}).get("error")
    if isinstance(inner, ConfigError):  # raised by a validator that already named the key
        return str(inner)
    loc = ".".join(key_text(p) for p in (prefix, *err["loc"]) if p != "")
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        known = _sibling_keys(cls, tuple(err["loc"])) if cls is not None else []
        match = difflib.get_close_matches(str(err["loc"][-1]), known, n=1, cutoff=0.6)
        msg = "unknown key" + (f" (did you mean {match[0]!r}?)" if match else "")
    extra = f" (and {len(exc.errors()) - 1} more problem(s))" if len(exc.errors()) > 1 else ""
    return f"{loc or '<root>'}: {msg}{extra}"


def validate(cls: type[StrictModel], data: Any, prefix: str = "") -> Any:
    """Build ``cls`` from ``data``; raise :class:`ConfigError` with one clear line."""
    try:
        return cls.model_validate({} if data is None else data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, prefix, cls)) from None
