"""shapes: procedural images with known factors, quantised to 256 levels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genmodels.data.shapes import CLASSES, RADIUS_RANGE, ShapeFactors, load_shapes, render_shapes, sample_factors


def _load(make_cfg, seed=0, size=16, n_train=60, n_test=30, limit=None):
    cfg = make_cfg(name="shapes", limit=limit, shapes={"size": size, "n_train": n_train, "n_test": n_test})
    return load_shapes(cfg, seed)


def _one(label: int, radius: float = 0.3, cx: float = 0.5, cy: float = 0.5) -> ShapeFactors:
    arr = lambda v, dt=np.float64: np.array([v], dtype=dt)  # noqa: E731
    return ShapeFactors(label=arr(label, np.int64), radius=arr(radius), center_x=arr(cx), center_y=arr(cy))


@pytest.mark.parametrize("size", [8, 16, 33])
def test_load_contract(make_cfg, assert_same, size):
    data = _load(make_cfg, size=size)
    info = data.info
    assert data.train.x.shape == (60, 1, size, size) and data.test.x.shape == (30, 1, size, size)
    assert data.train.x.dtype == np.float32 and data.train.y.dtype == np.int64
    assert (info.name, info.kind, info.shape, info.levels) == ("shapes", "image", (1, size, size), 256)
    assert info.num_classes == 3 and info.extra["classes"] == ["square", "circle", "triangle"]
    x = data.train.x
    assert x.min() >= 0.0 and x.max() <= 1.0
    np.testing.assert_allclose(x * 255, np.round(x * 255), atol=1e-3)  # exactly k/255
    assert set(np.unique(data.train.y)) <= {0, 1, 2}
    assert (x.reshape(60, -1).max(axis=1) > 0.25).all()  # every image shows a shape
    assert_same(data, _load(make_cfg, size=size))
    assert not np.array_equal(x, _load(make_cfg, seed=1, size=size).train.x)


def test_limit_and_independent_test_split(make_cfg):
    small, full = _load(make_cfg, limit=10), _load(make_cfg)
    assert len(small.train) == 10 and len(small.test) == 30
    np.testing.assert_array_equal(small.test.x, full.test.x)


def test_factors_are_in_range_and_balanced():
    f = sample_factors(3000, np.random.default_rng(0))
    assert f.radius.min() >= RADIUS_RANGE[0] and f.radius.max() <= RADIUS_RANGE[1]
    assert (f.center_x >= f.radius).all() and (f.center_x <= 1 - f.radius).all()
    assert (f.center_y >= f.radius).all() and (f.center_y <= 1 - f.radius).all()
    counts = np.bincount(f.label, minlength=len(CLASSES))
    assert counts.min() > 900


@pytest.mark.parametrize(
    ("name", "area"),
    [("square", 4.0), ("circle", math.pi), ("triangle", 3 * math.sqrt(3) / 4)],
)
def test_rendered_area_matches_geometry(name, area):
    r = 0.3
    img = render_shapes(_one(CLASSES.index(name), radius=r), size=64)[0, 0]
    assert img.mean() == pytest.approx(area * r * r, rel=0.01)


def test_triangle_points_up_and_position_moves_the_shape():
    tri = render_shapes(_one(CLASSES.index("triangle")), size=64)[0, 0]
    # Apex up, centroid at the centre: 4/9 of the area lies above the centre row.
    assert tri[:32].sum() / tri.sum() == pytest.approx(4 / 9, abs=0.02)
    left = render_shapes(_one(0, radius=0.2, cx=0.25), size=32)[0, 0]
    cols = np.arange(32) + 0.5
    assert (left.sum(axis=0) @ cols) / left.sum() / 32 == pytest.approx(0.25, abs=0.01)


def test_render_rejects_bad_size():
    with pytest.raises(ValueError, match="size"):
        render_shapes(_one(0), size=0)
