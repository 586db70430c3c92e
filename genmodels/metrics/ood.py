"""Out-of-distribution sets for the anomaly AUROC, built from the test set (seeded, no download).

For images: ``permuted`` (one fixed pixel permutation: easy, a per-pixel model already
separates it), and the hard sets that keep every pixel's marginal nearly intact:
``hflip``/``vflip`` (mirror images) and ``shapes`` (procedural squares, circles and triangles
drawn at the same size and quantised to the same levels — another dataset of the same shape).
For points: uniform noise over the value range.

The held-out-class set (``evaluate.holdout_class``) is of another kind: the outliers are real
test images of one class, scored by a copy of the model trained without that class, against
the other classes' test images. It needs that retrain, so it runs only when params ask, and
it stays out of ``anomaly_auroc``'s mean over the hard sets: that mean keeps one meaning with
the option on or off, and this set is scored by another model (the retrained copy).
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


HOLDOUT = "holdout_class"  # name of the held-out-class set (its AUROC: anomaly_auroc_holdout_class)


def holdout_class_split(test_x: np.ndarray, test_y: np.ndarray | None, cls: int) -> tuple[np.ndarray, np.ndarray]:
    """``(inliers, outliers)``: the test images of the other classes, and those of class ``cls``."""
    if test_y is None:
        raise ValueError("the held-out-class set needs class labels on the test split")
    y = np.asarray(test_y)
    if len(y) != len(test_x):
        raise ValueError(f"{len(y)} test labels for {len(test_x)} test images")
    out = y == cls
    if not out.any():
        raise ValueError(f"class {cls} has no test images (classes present: {', '.join(map(str, np.unique(y)))})")
    if out.all():
        raise ValueError(f"every test image is of class {cls}: no inliers to compare with")
    return test_x[~out], test_x[out]
