"""User-facing errors: the CLI prints their message as one line and exits non-zero."""

from __future__ import annotations

import os

DEBUG_ENV = "GENMODELS_DEBUG"  # set (to 1) by ``genmodels --debug``: tracebacks and library chatter are shown


def debugging() -> bool:
    """True under ``genmodels --debug`` (or ``GENMODELS_DEBUG=1``)."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


class GenmodelsError(Exception):
    """Base class for errors caused by user input (config, files), not by bugs."""

    exit_code = 1


class ConfigError(GenmodelsError, ValueError):
    """A parameter is unknown, has the wrong type or is out of range."""

    exit_code = 2


class DataError(GenmodelsError, ValueError):
    """An input file is missing, unreadable or malformed."""

    exit_code = 2


class ModelConfigError(ConfigError):
    """A bad value in one model's section, whose key is named relative to it (``model.image_bins``).

    Raised where only the family is known (a model checking its config against the data);
    the CLI puts the model's name in front (``bn.model.image_bins``).
    """
