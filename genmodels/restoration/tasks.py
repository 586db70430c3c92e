"""Restoration tasks: seeded corruptions of clean images and the observation model of each.

A task is a name such as ``denoise-0.2``, ``inpaint-square`` or ``superres-4``: a kind
(registered in :data:`TASK_KINDS`) and a strength. Its corruption is a pure function of
``(clean batch, seed)``, so every family restores the same observations. Each observation
states its model, which restorers read instead of the task's name:

* ``noise``: ``y = clip(x + sigma e, 0, 1)``, ``e ~ N(0, I)`` (a linear Gaussian observation with
  ``A = I``; the clip makes the outer values a point mass, see :mod:`.evidence`).
* ``mask``: the pixels where ``mask`` is True are observed exactly, the others are missing
  (``y`` holds 0 there).
* ``pool``: ``y = A x``, ``A`` the ``f x f`` average pooling (no noise): the low-resolution image.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from genmodels.errors import ConfigError
from genmodels.registry import Registry
from genmodels.restoration.names import DEFAULT_TASKS, denoise_sigma, inpaint_region, split_task, superres_factor, task_key

__all__ = ["DEFAULT_TASKS", "TASK_KINDS", "Observation", "Task", "get_task", "register_task_kind"]

ObservationKind = Literal["noise", "mask", "pool"]



@dataclass(frozen=True)
class Observation:
    """A corrupted batch and how it was made from the clean one.

    ``y``: ``(n, C, H, W)`` for noise and mask, ``(n, C, H/f, W/f)`` for pool; ``mask``:
    ``(C, H, W)`` bool, True where observed (mask only); ``sigma``: the noise level (noise);
    ``factor``: the pooling factor (pool); ``shape``: the clean images' ``(C, H, W)``.
    """

    kind: ObservationKind
    y: Tensor
    shape: tuple[int, ...]
    sigma: float = 0.0
    factor: int = 1
    mask: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        """The noiseless operator ``A x`` of this observation on images ``(n, C, H, W)``
        (pool: the average pooling; mask: the observed pixels, others set to 0)."""
        if self.kind == "pool":
            return F.avg_pool2d(x, self.factor)
        if self.kind == "mask":
            return x * self.mask.to(x.dtype)
        return x

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Task:
    """A named corruption: ``kind``, ``strength`` (as written in the name) and its observation model."""

    kind: str
    strength: str
    corrupt_fn: Callable[[Tensor, torch.Generator], Observation]

    @property
    def name(self) -> str:
        """``<kind>-<strength>``, e.g. ``denoise-0.5``."""
        return f"{self.kind}-{self.strength}"

    @property
    def key(self) -> str:
        """The metric-key prefix ``<task>_<strength>`` of the public contract (``denoise_0.5``,
        ``inpaint_half``, ``superres_x4``)."""
        return task_key(self.name)

    def corrupt(self, x: Tensor, seed: int) -> Observation:
        """The observation of clean images ``x`` ``(n, C, H, W)`` in [0, 1]; the same for the same seed."""
        if x.dim() != 4:
            raise ConfigError(f"restoration task {self.name}: expected images shaped (n, C, H, W), got {list(x.shape)}")
        gen = torch.Generator(device="cpu").manual_seed(int(seed))
        return self.corrupt_fn(x, gen)


TaskFactory = Callable[[str], Task]
TASK_KINDS: Registry[TaskFactory] = Registry("restoration task kind")


def register_task_kind(kind: str) -> Callable[[TaskFactory], TaskFactory]:
    """Decorator: a factory ``strength (str) -> Task`` for the task kind ``kind``."""
    return TASK_KINDS.register(kind)


def get_task(name: str) -> Task:
    """The task called ``<kind>-<strength>``; a bad name or strength raises :class:`ConfigError` (one line)."""
    kind, strength = split_task(name, tuple(TASK_KINDS.names()))
    if kind not in TASK_KINDS:
        raise ConfigError(f"restoration task {name!r}: unknown kind {kind!r} (known: {', '.join(TASK_KINDS.names())})")
    return TASK_KINDS.get(kind)(strength)


@register_task_kind("denoise")
def denoise(strength: str) -> Task:
    """Additive Gaussian noise of standard deviation ``sigma`` (in [0, 1] units), clipped to [0, 1]."""
    sigma = denoise_sigma(strength)

    def corrupt(x: Tensor, gen: torch.Generator) -> Observation:
        noise = torch.randn(x.shape, generator=gen, dtype=torch.float64)
        y = (x.double().cpu() + sigma * noise).clamp(0.0, 1.0).to(x.dtype).to(x.device)
        return Observation("noise", y, tuple(x.shape[1:]), sigma=sigma)

    return Task("denoise", strength, corrupt)


def region_mask(shape: tuple[int, ...], region: str) -> Tensor:
    """Observed pixels (True) of ``(C, H, W)`` images: ``square`` misses the centred ``H/2 x W/2``
    square (a quarter of the image), ``half`` the lower ``H/2`` rows."""
    _, h, w = shape
    mask = torch.ones(shape, dtype=torch.bool)
    if region == "square":
        top, left = (h - h // 2) // 2, (w - w // 2) // 2
        mask[:, top : top + h // 2, left : left + w // 2] = False
    else:
        mask[:, h - h // 2 :, :] = False
    return mask


@register_task_kind("inpaint")
def inpaint(strength: str) -> Task:
    """Missing pixels in a fixed region (``square`` or ``half``); the rest observed exactly."""
    inpaint_region(strength)

    def corrupt(x: Tensor, gen: torch.Generator) -> Observation:
        mask = region_mask(tuple(x.shape[1:]), strength).to(x.device)
        if min(x.shape[2:]) < 2:
            raise ConfigError(f"restoration task inpaint-{strength}: images of {list(x.shape[2:])} pixels have no region to miss")
        return Observation("mask", x * mask.to(x.dtype), tuple(x.shape[1:]), mask=mask)

    return Task("inpaint", strength, corrupt)


@register_task_kind("superres")
def superres(strength: str) -> Task:
    """The ``f x f`` average-pooled image (``f`` = 2 or 4), to be upsampled back."""
    factor = superres_factor(strength)

    def corrupt(x: Tensor, gen: torch.Generator) -> Observation:
        h, w = x.shape[2:]
        if h % factor or w % factor:
            raise ConfigError(f"restoration task superres-{strength}: the factor {factor} does not divide the image side ({h}x{w})")
        return Observation("pool", F.avg_pool2d(x, factor), tuple(x.shape[1:]), factor=factor)

    return Task("superres", strength, corrupt)
