"""Base class of every typed config: unknown keys and bad values are errors."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from genmodels.errors import ConfigError


class StrictModel(BaseModel):
    """Pydantic model that forbids unknown keys and never coerces silently across types."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def format_validation_error(exc: ValidationError, prefix: str = "") -> str:
    """One line naming the first offending key (dotted path) and the problem."""
    err = exc.errors()[0]
    inner = (err.get("ctx") or {}).get("error")
    if isinstance(inner, ConfigError):  # raised by a validator that already named the key
        return str(inner)
    loc = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    extra = f" (and {len(exc.errors()) - 1} more problem(s))" if len(exc.errors()) > 1 else ""
    return f"{loc or '<root>'}: {msg}{extra}"


def validate(cls: type[StrictModel], data: Any, prefix: str = "") -> Any:
    """Build ``cls`` from ``data``; raise :class:`ConfigError` with one clear line."""
    try:
        return cls.model_validate({} if data is None else data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, prefix)) from None
