"""Out-of-distribution sets for the anomaly AUROC, built from the test set (seeded, no download).

For images: ``permuted`` (one fixed pixel permutation: easy, a per-pixel model already
separates it), and the hard sets that keep every pixel's marginal nearly intact:
``hflip``/``vflip`` (mirror images) and ``shapes`` (procedural squares, circles and triangles
drawn at the same size and quantised to the same levels — another dataset of the same shape).
For points: uniform noise over the value range.
"""

from __future__ import annotations

import numpy as np

HARD = ("hflip", "vflip", "shapes")


def _shapes_like(test_x: np.ndarray, levels: int | None, seed: int) -> np.ndarray:
    from genmodels.data.shapes import render_shapes, sample_factors

    n, c, h, w = test_x.shape
    img = render_shapes(sample_factors(n, np.random.default_rng(seed)), max(h, w))[:, :, :h, :w]
    if levels is not None:
        img = np.round(img * (levels - 1)) / (levels - 1)
    return np.repeat(img, c, axis=1).astype(np.float32)


def ood_sets(test_x: np.ndarray, info, seed: int) -> dict[str, np.ndarray]:  # noqa: ANN001
    """Named out-of-distribution inputs shaped like ``test_x``."""
    if info.kind != "image" or test_x.ndim != 4:
        lo, hi = info.value_range
        return {"uniform": np.random.default_rng(seed).uniform(lo, hi, size=test_x.shape).astype(np.float32)}
    flat = test_x.reshape(len(test_x), -1)
    perm = np.random.default_rng(seed).permutation(flat.shape[1])
    return {
        "permuted": flat[:, perm].reshape(test_x.shape),
        "hflip": np.ascontiguousarray(test_x[..., ::-1]),
        "vflip": np.ascontiguousarray(test_x[..., ::-1, :]),
        "shapes": _shapes_like(test_x, info.levels, seed),
    }
