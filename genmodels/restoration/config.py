"""The restoration stage's typed config (``restore:`` in params.yaml): the one source of its defaults.

The defaults keep every ``restore@<model>`` stage on the digits preset within seconds at one
thread (measured in docs/restoration.md): a seeded subset of ``n_images`` test images, the
flow's importance draws drawn once per model and shared by all tasks, short Gibbs chains and
latent searches. Raise them for tighter estimates.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from genmodels.configbase import StrictModel
from genmodels.errors import ConfigError
from genmodels.restoration.names import BUILTIN_KINDS, DEFAULT_TASKS, check_task_name, split_task


def _checked_task(name: str) -> str:
    """``name`` when it is a valid task: built-in kinds without torch, others through the task
    registry; a :class:`ConfigError` becomes a ValueError so that the message names the dotted key."""
    try:
        if split_task(name, tuple(BUILTIN_KINDS))[0] in BUILTIN_KINDS:
            return check_task_name(name)
        from genmodels.restoration.tasks import get_task  # a kind registered by a plugin (brings torch)

        return get_task(name).name
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


class RestoreConfig(StrictModel):
    tasks: list[str] = Field(default_factory=lambda: list(DEFAULT_TASKS))  # <kind>-<strength>: denoise-<sigma>, inpaint-square|half, superres-<factor>
    n_images: int = Field(48, ge=1)  # test images restored (a seeded subset; all when the split is smaller)
    pictures: int = Field(8, ge=0)  # images per task in the corrupted | restored | clean picture
    completions: int = Field(4, ge=1)  # posterior draws (or restarts, for MAP families) kept per image
    gibbs_burn_in: int = Field(50, ge=0)  # RBM: conditional Gibbs sweeps discarded before averaging
    gibbs_sweeps: int = Field(100, ge=1)  # RBM: sweeps averaged (Rao-Blackwellised where per-pixel)
    gibbs_chains: int = Field(2, ge=1)  # RBM: independent chains per image
    gibbs_pool: bool = False  # RBM: super-resolution too (exact block sums in every sweep: ~1 s per image and task on digits); off, its keys are null
    latent_steps: int = Field(100, ge=1)  # VAE/GAN: Adam steps of the latent MAP
    latent_lr: float = Field(0.05, gt=0.0)  # Adam's learning rate on the latent
    importance_samples: int = Field(2000, ge=1)  # flow: prior draws (once per model, shared by all tasks) weighted by the observation's likelihood
    exact_sigma: float = Field(0.05, gt=0.0)  # noise level that continuous families assume for exact observations (mask, pool)
    batch_size: int = Field(512, ge=1)  # images restored at once by the iterative restorers

    @field_validator("tasks")
    @classmethod
    def _known_tasks(cls, v: list[str]) -> list[str]:
        repeated = sorted({t for t in v if v.count(t) > 1})
        if repeated:
            raise ValueError(f"each task once, {repeated[0]!r} is listed {v.count(repeated[0])} times")
        return [_checked_task(t) for t in v]
