"""What a restorer returns, the exception for a task a family cannot do, and the restorer registry.

A restorer is a function ``(model, observation, config, generator, shared) -> Restoration`` registered
under its family's name (``@register_restorer("gmm")`` in :mod:`genmodels.restoration.families`);
:func:`restore` finds it by ``model.family``. Every restorer reads only the observation
(:class:`~genmodels.restoration.tasks.Observation`) and its model, never the clean images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from genmodels.registry import Registry

if TYPE_CHECKING:
    from genmodels.models.core.base import GenerativeModel
    from genmodels.restoration.config import RestoreConfig
    from genmodels.restoration.tasks import Observation


class Undefined(Exception):
    """The family cannot do this task; ``str(exc)`` is the reason (the stage records null + the reason)."""


@dataclass(frozen=True)
class Restoration:
    """``mean``: the restored images ``(n, C, H, W)`` in [0, 1] (the posterior mean, or the MAP
    estimate where ``method`` says so); ``completions``: ``(n, m, C, H, W)`` draws or alternative
    restorations (None when the family has none); ``exact``: whether ``mean`` is the model's exact
    posterior mean; ``method``: one line on how it was computed."""

    mean: Tensor
    completions: Tensor | None
    exact: bool
    method: str


Restorer = Callable[["GenerativeModel", "Observation", "RestoreConfig", torch.Generator, "dict | None"], Restoration]
RESTORERS: Registry[Restorer] = Registry("restorer", package="genmodels.restoration.families")


def register_restorer(family: str) -> Callable[[Restorer], Restorer]:
    """Decorator: the restorer of the model family ``family``."""
    return RESTORERS.register(family)


def restore(
    model: GenerativeModel, obs: Observation, config: RestoreConfig | None = None, generator: torch.Generator | None = None,
    shared: dict | None = None,
) -> Restoration:
    """Restore the observation with the model's family restorer (default config; seed 0 unless a generator is given).

    ``shared``: work a restorer may keep for the model's other tasks (the flow's prior draws);
    pass the same dict for every task of one model, or None to start afresh.

    Raises :class:`Undefined` (with the reason) when the family cannot do the task.
    """
    from genmodels.restoration.config import RestoreConfig

    family = getattr(model, "family", None)
    if family not in RESTORERS:
        raise Undefined(f"no restorer for the family {family!r} (known: {', '.join(RESTORERS.names())})")
    if tuple(obs.shape) != tuple(model.data_shape):
        raise ValueError(f"restore: the observation is of images {list(obs.shape)}, the model's are {list(model.data_shape)}")
    gen = generator if generator is not None else torch.Generator(device="cpu").manual_seed(0)
    training = model.training
    model.eval()  # dropout off (the flow's MADE), batch statistics frozen
    try:
        with torch.no_grad():
            return RESTORERS.get(family)(model, obs, config or RestoreConfig(), gen, shared)
    finally:
        model.train(training)


def as_images(flat: Tensor, shape: tuple[int, ...]) -> Tensor:
    """``(n, D)`` or ``(n, m, D)`` float64 -> float32 images ``(n, [m,] *shape)``, clamped to [0, 1]."""
    return flat.reshape(*flat.shape[:-1], *shape).float().clamp(0.0, 1.0)
