"""Restoration: what generative models are for. Each family restores held-out images from
seeded corruptions (denoising, inpainting, super-resolution) with its own machinery.

``get_task(name).corrupt(x, seed)`` makes the observation, ``restore(model, obs)`` runs the
family's registered restorer, :mod:`.references` the classical baselines and :mod:`.scores`
the scores. See docs/restoration.md.
"""

from genmodels.restoration.base import RESTORERS, Restoration, Undefined, register_restorer, restore
from genmodels.restoration.config import RestoreConfig
from genmodels.restoration.tasks import DEFAULT_TASKS, TASK_KINDS, Observation, Task, get_task, register_task_kind

__all__ = [
    "DEFAULT_TASKS", "RESTORERS", "TASK_KINDS", "Observation", "Restoration", "RestoreConfig", "Task", "Undefined",
    "get_task", "register_restorer", "register_task_kind", "restore",
]  # fmt: skip
