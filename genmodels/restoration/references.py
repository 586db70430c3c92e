"""Classical restorers, the reference rows ``ref-<method>``, from scikit-image (and a copy baseline).

* ``ref-tv``: total-variation denoising (Chambolle 2004), ``denoise_tv_chambolle``, its weight
  chosen on the validation split; denoising only.
* ``ref-nlm``: non-local means (Buades et al. 2005), ``denoise_nl_means`` with the task's sigma,
  its filter strength ``h`` chosen on the validation split; denoising only.
* ``ref-biharmonic``: biharmonic inpainting (Damelin & Hoang 2018), ``inpaint_biharmonic``; inpainting only.
* ``ref-bicubic``: ``resize`` with ``order=3`` (bicubic spline) of the pooled image; super-resolution only.
* ``ref-nearest-train``: the training image nearest to the observation in the observed values
  (``||A x_j - y||``: all pixels for noise, the observed ones for masks, the pooled image for
  pooling): what copying the training set scores. Every task; the next nearest ones are its completions.

A reference that does not apply to a task raises :class:`~genmodels.restoration.base.Undefined`.
Parameters are chosen by :func:`choose_parameters`: the grid value with the best mean PSNR on
the validation images under the same kind of corruption.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from genmodels.errors import ConfigError
from genmodels.registry import Registry
from genmodels.restoration.base import Restoration, Undefined
from genmodels.restoration.evidence import observed_pixels
from genmodels.restoration.tasks import Observation, Task


@dataclass(frozen=True)
class Reference:
    """``run(obs, train, **params) -> Restoration``; ``kinds``: the observation kinds it handles;
    ``grid``: candidate parameter sets (given the observation) for :func:`choose_parameters`."""

    run: Callable[..., Restoration]
    kinds: tuple[str, ...]
    grid: Callable[[Observation], list[dict[str, Any]]] = field(default=lambda obs: [{}])


REFERENCES: Registry[Reference] = Registry("reference restorer")


def _each_image(obs: Observation, fn: Callable[[np.ndarray, int], np.ndarray]) -> Tensor:
    """Apply ``fn(image (h, w, C) float64, index) -> (H, W, C)`` (channels last, as scikit-image
    returns them) to every observed image; back to a float32 ``(n, C, H, W)`` batch."""
    y = np.moveaxis(obs.y.detach().cpu().double().numpy(), 1, -1)
    out = np.stack([np.asarray(fn(img, i)).reshape(*obs.shape[1:], obs.shape[0]) for i, img in enumerate(y)])
    return torch.from_numpy(np.moveaxis(out, -1, 1).copy()).float().clamp(0.0, 1.0)


def _check(name: str, obs: Observation) -> None:
    if obs.kind not in REFERENCES.get(name).kinds:
        raise Undefined(f"{name} is a {'/'.join(REFERENCES.get(name).kinds)} method, not for {obs.kind} observations")


def _tv(obs: Observation, train: Tensor, weight: float) -> Restoration:
    from skimage.restoration import denoise_tv_chambolle

    _check("ref-tv", obs)
    out = _each_image(obs, lambda img, i: denoise_tv_chambolle(img, weight=weight, channel_axis=-1))
    return Restoration(out, None, False, f"denoise_tv_chambolle(weight={weight:g})")


def _nlm(obs: Observation, train: Tensor, h_factor: float) -> Restoration:
    from skimage.restoration import denoise_nl_means

    _check("ref-nlm", obs)
    h = h_factor * obs.sigma
    out = _each_image(obs, lambda img, i: denoise_nl_means(img, h=h, sigma=obs.sigma, patch_size=3, patch_distance=3, channel_axis=-1))
    return Restoration(out, None, False, f"denoise_nl_means(h={h_factor:g} sigma, patch 3, distance 3)")


def _biharmonic(obs: Observation, train: Tensor) -> Restoration:
    from skimage.restoration import inpaint_biharmonic

    _check("ref-biharmonic", obs)
    missing = (~obs.mask[0]).cpu().numpy()  # the same pixels of every channel
    out = _each_image(obs, lambda img, i: inpaint_biharmonic(img, missing, channel_axis=-1))
    return Restoration(out, None, False, "inpaint_biharmonic")


def _bicubic(obs: Observation, train: Tensor) -> Restoration:
    from skimage.transform import resize

    _check("ref-bicubic", obs)
    out = _each_image(obs, lambda img, i: resize(img, (*obs.shape[1:], obs.shape[0]), order=3, mode="edge", anti_aliasing=False))
    return Restoration(out, None, False, "resize(order=3) of the pooled image")


def _nearest_train(obs: Observation, train: Tensor, completions: int = 4) -> Restoration:
    t = train.detach().double().cpu()
    a_train = obs.forward(t).reshape(len(t), -1)
    y = obs.y.detach().double().cpu().reshape(len(obs), -1)
    d2 = (y * y).sum(1, keepdim=True) - 2.0 * y @ a_train.T + (a_train * a_train).sum(1)
    idx = torch.topk(d2, min(completions, len(t)), dim=1, largest=False).indices  # (n, m), nearest first
    picks = t[idx].float()  # (n, m, C, H, W)
    picks = torch.stack([observed_pixels(obs, picks[:, j]) for j in range(picks.shape[1])], 1)
    return Restoration(picks[:, 0], picks, False, "the nearest training image in the observed values")


REFERENCES.register("ref-tv")(Reference(_tv, ("noise",), lambda obs: [{"weight": w} for w in (0.02, 0.05, 0.1, 0.2, 0.4)]))
REFERENCES.register("ref-nlm")(Reference(_nlm, ("noise",), lambda obs: [{"h_factor": h} for h in (0.4, 0.6, 0.8, 1.0, 1.2)]))
REFERENCES.register("ref-biharmonic")(Reference(_biharmonic, ("mask",)))
REFERENCES.register("ref-bicubic")(Reference(_bicubic, ("pool",)))
REFERENCES.register("ref-nearest-train")(Reference(_nearest_train, ("noise", "mask", "pool")))


def check_reference_name(name: str) -> str:
    """``name`` when a reference row of that name is registered, else one :class:`ConfigError` line."""
    if name not in REFERENCES:
        raise ConfigError(f"restoration reference {name!r}: unknown (known: {', '.join(REFERENCES.names())})")
    return name


def choose_parameters(name: str, task: Task, val_x: Tensor, train: Tensor, seed: int) -> dict[str, Any]:
    """The grid entry of reference ``name`` with the best mean PSNR on ``task``'s corruption of the validation images."""
    from genmodels.restoration.scores import psnr_per_image

    ref = REFERENCES.get(name)
    obs = task.corrupt(val_x, seed)
    _check(name, obs)
    grid = ref.grid(obs)
    if len(grid) == 1:
        return grid[0]
    scores = [float(psnr_per_image(val_x, ref.run(obs, train, **params).mean).mean()) for params in grid]
    return grid[int(np.argmax(scores))]


def run_reference(name: str, obs: Observation, train: Tensor, params: dict[str, Any] | None = None) -> Restoration:
    """Restore with reference ``name`` (its parameters from :func:`choose_parameters`)."""
    return REFERENCES.get(name).run(obs, train, **(params or {}))
