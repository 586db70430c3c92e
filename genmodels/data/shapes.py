"""Procedural single-channel images of one white shape on black, with known factors.

Each image is drawn from independent factors: the class (square, circle, triangle; the
label ``y``), a radius and a centre, so disentanglement and class coverage can be checked
against ground truth (in the spirit of dSprites, Matthey et al. 2017). Edges are
anti-aliased by supersampling and values are quantised to k/255 (256 levels).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from genmodels.data.base import DatasetInfo, PreparedData
from genmodels.data.config import DataConfig
from genmodels.data.registry import register_dataset
from genmodels.data.samples import Samples

RADIUS_RANGE = (0.15, 0.35)  # circumradius as a fraction of the image side
SUPERSAMPLE = 4  # subpixels per pixel side used for anti-aliasing
_BLOCK = 1 << 22  # subpixels rendered at once (bounds memory)

Inside = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _square(dx: np.ndarray, dy: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Axis-aligned square of half-side r."""
    return np.maximum(np.abs(dx), np.abs(dy)) <= r


def _circle(dx: np.ndarray, dy: np.ndarray, r: np.ndarray) -> np.ndarray:
    return dx * dx + dy * dy <= r * r


def _triangle(dx: np.ndarray, dy: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Equilateral triangle, apex up, circumradius r, centroid at the centre."""
    up = -dy  # image rows grow downwards
    return (up >= -r / 2) & (math.sqrt(3.0) * np.abs(dx) + up <= r)


_SHAPES: dict[str, Inside] = {"square": _square, "circle": _circle, "triangle": _triangle}
CLASSES: tuple[str, ...] = tuple(_SHAPES)  # label k is CLASSES[k]


@dataclass(frozen=True)
class ShapeFactors:
    """Per-image factors: class index, radius and centre (fractions of the image side)."""

    label: np.ndarray  # int64, index into CLASSES
    radius: np.ndarray
    center_x: np.ndarray
    center_y: np.ndarray

    def __len__(self) -> int:
        return len(self.label)


def sample_factors(n: int, rng: np.random.Generator) -> ShapeFactors:
    """Uniform class and radius; centre uniform over positions keeping the shape inside."""
    label = rng.integers(0, len(CLASSES), size=n).astype(np.int64)
    radius = rng.uniform(*RADIUS_RANGE, size=n)
    center_x = rng.uniform(radius, 1.0 - radius)
    center_y = rng.uniform(radius, 1.0 - radius)
    return ShapeFactors(label=label, radius=radius, center_x=center_x, center_y=center_y)


def render_shapes(factors: ShapeFactors, size: int, supersample: int = SUPERSAMPLE) -> np.ndarray:
    """Render to float32 ``(n, 1, size, size)``: pixel = covered fraction, rounded to k/255."""
    if size < 1 or supersample < 1:
        raise ValueError(f"size and supersample must be >= 1, got {size}, {supersample}")
    fine = size * supersample
    coords = (np.arange(fine) + 0.5) / fine  # subpixel centres in [0, 1]
    out = np.empty((len(factors), 1, size, size), dtype=np.float32)
    step = max(1, _BLOCK // (fine * fine))
    for start in range(0, len(factors), step):
        sl = slice(start, start + step)
        dx = coords[None, None, :] - factors.center_x[sl, None, None]
        dy = coords[None, :, None] - factors.center_y[sl, None, None]
        r = factors.radius[sl, None, None]
        mask = np.zeros((len(r), fine, fine), dtype=bool)
        for k, inside in enumerate(_SHAPES.values()):
            pick = factors.label[sl] == k
            mask[pick] = inside(dx[pick], dy[pick], r[pick])
        cover = mask.reshape(len(r), size, supersample, size, supersample).mean(axis=(2, 4))
        out[sl, 0] = np.round(cover * 255.0) / 255.0
    return out


def _draw(n: int, size: int, rng: np.random.Generator) -> Samples:
    factors = sample_factors(n, rng)
    return Samples(x=render_shapes(factors, size), y=factors.label)


@register_dataset("shapes")
def load_shapes(cfg: DataConfig, seed: int) -> PreparedData:
    """Fresh draws for train and test from independent seeded streams."""
    opts = cfg.shapes
    n_train = opts.n_train if cfg.limit is None else min(opts.n_train, cfg.limit)
    train_seq, test_seq = np.random.SeedSequence(seed).spawn(2)
    info = DatasetInfo(
        name="shapes",
        kind="image",
        shape=(1, opts.size, opts.size),
        levels=256,
        num_classes=len(CLASSES),
        value_range=(0.0, 1.0),
        extra={
            "classes": list(CLASSES),
            "factors": ["label", "radius", "center_x", "center_y"],
            "radius_range": list(RADIUS_RANGE),
            "supersample": SUPERSAMPLE,
        },
    )
    train = _draw(n_train, opts.size, np.random.default_rng(train_seq))
    test = _draw(opts.n_test, opts.size, np.random.default_rng(test_seq))
    return PreparedData(train=train, test=test, info=info)
