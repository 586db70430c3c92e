"""Label-preserving image augmentation for training the evaluator's classifier, in pure torch.

Small random translations (the classic augmentation of convolutional digit classifiers,
Simard et al. 2003) by whole pixels keep every value on the dataset's grey levels; an optional
small rotation resamples bilinearly (a convex combination of pixels, so values stay in range).
Every draw comes from the ``torch.Generator`` passed in: the same generator state gives the
same batch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def random_shift(x: Tensor, max_shift: int, generator: torch.Generator) -> Tensor:
    """Translate each image of ``x`` (N, C, H, W) by its own integer offset in [-max_shift, max_shift]
    on each axis; pixels shifted in are 0 (the background of digit images)."""
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0, got {max_shift}")
    if max_shift == 0 or len(x) == 0:
        return x
    n, _, h, w = x.shape
    dy, dx = torch.randint(-max_shift, max_shift + 1, (2, n), generator=generator).to(x.device)
    padded = F.pad(x, (max_shift, max_shift, max_shift, max_shift))
    rows = torch.arange(h, device=x.device)[None, :] + max_shift - dy[:, None]  # (N, H)
    cols = torch.arange(w, device=x.device)[None, :] + max_shift - dx[:, None]  # (N, W)
    batch = torch.arange(n, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # (N, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()


def random_rotate(x: Tensor, max_degrees: float, generator: torch.Generator) -> Tensor:
    """Rotate each image of ``x`` (N, C, H, W) about its centre by its own angle, uniform in
    [-max_degrees, max_degrees], with bilinear resampling and 0 outside the image."""
    if max_degrees < 0:
        raise ValueError(f"max_degrees must be >= 0, got {max_degrees}")
    if max_degrees == 0 or len(x) == 0:
        return x
    angle = (torch.rand(len(x), generator=generator) * 2 - 1) * math.radians(max_degrees)
    cos, sin, zero = angle.cos(), angle.sin(), torch.zeros_like(angle)
    h, w = x.shape[-2:]  # affine_grid works in [-1, 1] coordinates: rescale so a rotation stays one in pixels
    theta = torch.stack([torch.stack([cos, -sin * h / w, zero], 1), torch.stack([sin * w / h, cos, zero], 1)], 1).to(x)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def augment(x: Tensor, max_shift: int, max_degrees: float, generator: torch.Generator) -> Tensor:
    """:func:`random_rotate` then :func:`random_shift` (either off at 0)."""
    return random_shift(random_rotate(x, max_degrees, generator), max_shift, generator)
