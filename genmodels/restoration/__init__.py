"""Restoration: what generative models are for. Each family restores held-out images from
seeded corruptions (denoising, inpainting, super-resolution) with its own machinery.

``get_task(name).corrupt(x, seed)`` makes the observation, ``restore(model, obs)`` runs the
family's registered restorer, :mod:`.references` the classical baselines, :mod:`.scores`
the scores and :mod:`.runner` all tasks of one row. See docs/restoration.md.

Names are imported on first use (module ``__getattr__``), so that :mod:`.config` (read by
``genmodels.config``) loads without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {  # name -> the module that defines it
    "DEFAULT_REFERENCES": "names",
    "DEFAULT_TASKS": "names",
    "RESTORERS": "base",
    "Restoration": "base",
    "Undefined": "base",
    "register_restorer": "base",
    "restore": "base",
    "RestoreConfig": "config",
    "TASK_KINDS": "tasks",
    "Observation": "tasks",
    "Task": "tasks",
    "get_task": "tasks",
    "register_task_kind": "tasks",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value
