"""toy2d: samples follow the spec and the density helpers match brute force."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from genmodels.data.toy2d import (
    load_toy2d,
    mixture_entropy_mc,
    mixture_log_density,
    mixture_posterior,
    moons_log_density,
    toy2d_entropy,
    toy2d_log_density,
    toy2d_spec,
)

KINDS = ["8gaussians", "25gaussians", "moons", "checkerboard"]
CLASSES = {"8gaussians": 8, "25gaussians": 25, "moons": 2, "checkerboard": 8}


def _load(make_cfg, kind, seed=0, n_train=4000, n_test=1000, limit=None):
    cfg = make_cfg(name="toy2d", limit=limit, toy2d={"kind": kind, "n_train": n_train, "n_test": n_test})
    return load_toy2d(cfg, seed)


def _grid(lo_x, hi_x, lo_y, hi_y, h):
    """Midpoints of an h-spaced grid and the cell area."""
    gx = np.arange(lo_x + h / 2, hi_x, h)
    gy = np.arange(lo_y + h / 2, hi_y, h)
    xx, yy = np.meshgrid(gx, gy)
    return np.stack([xx.ravel(), yy.ravel()], axis=1), h * h


@pytest.mark.parametrize("kind", KINDS)
def test_load_contract(make_cfg, assert_same, kind):
    data = _load(make_cfg, kind)
    info = data.info
    assert data.train.x.shape == (4000, 2) and data.test.x.shape == (1000, 2)
    assert data.train.x.dtype == np.float32 and data.train.y.dtype == np.int64
    assert (info.name, info.kind, info.shape, info.levels) == ("toy2d", "points", (2,), None)
    assert info.num_classes == CLASSES[kind]
    assert set(np.unique(data.train.y)) == set(range(info.num_classes))
    both = np.concatenate([data.train.x, data.test.x])
    assert info.value_range == (float(both.min()), float(both.max()))
    assert json.loads(json.dumps(info.extra)) == info.extra
    assert info.extra["kind"] == kind
    assert np.isfinite(toy2d_log_density(data.test.x, info.extra)).all()
    assert_same(data, _load(make_cfg, kind))
    other = _load(make_cfg, kind, seed=1)
    assert not np.array_equal(data.train.x, other.train.x)


def test_limit_caps_train_only_and_test_is_independent_of_train_size(make_cfg):
    small = _load(make_cfg, "8gaussians", limit=100)
    full = _load(make_cfg, "8gaussians")
    assert len(small.train) == 100 and len(small.test) == 1000
    np.testing.assert_array_equal(small.test.x, full.test.x)


@pytest.mark.parametrize(("kind", "std"), [("8gaussians", 0.02), ("25gaussians", 0.05)])
def test_mixture_samples_match_spec(make_cfg, kind, std):
    data = _load(make_cfg, kind, n_train=20000)
    spec = data.info.extra
    means = np.asarray(spec["means"])
    assert spec["std"] == std and np.allclose(spec["weights"], 1 / len(means))
    x, y = data.train.x.astype(np.float64), data.train.y
    counts = np.bincount(y, minlength=len(means))
    assert counts.min() > 0.6 * len(x) / len(means)
    for k, mu in enumerate(means):
        pts = x[y == k]
        np.testing.assert_allclose(pts.mean(axis=0), mu, atol=5 * std / math.sqrt(len(pts)))
        np.testing.assert_allclose(pts.std(axis=0), std, rtol=0.15)


def test_mixture_geometry():
    eight = np.asarray(toy2d_spec("8gaussians")["means"])
    np.testing.assert_allclose(np.linalg.norm(eight, axis=1), 2.0)
    np.testing.assert_allclose(np.diff(np.unwrap(np.arctan2(eight[:, 1], eight[:, 0]))), 2 * math.pi / 8)
    grid = {tuple(m) for m in toy2d_spec("25gaussians")["means"]}
    assert grid == {(float(a), float(b)) for a in range(-2, 3) for b in range(-2, 3)}


def test_moons_samples_lie_on_their_arcs(make_cfg):
    data = _load(make_cfg, "moons")
    spec = data.info.extra
    x, y = data.train.x.astype(np.float64), data.train.y
    s, (ox, oy) = spec["scale"], spec["offset"]
    centres = [s * np.array([-ox, -oy]), s * np.array([1 - ox, 0.5 - oy])]  # arc centres per moon
    for k, c in enumerate(centres):
        r = np.linalg.norm(x[y == k] - c, axis=1)
        assert abs(np.median(r) - s) < 0.02
        assert np.abs(r - s).max() < 6 * spec["noise"]
    assert 0.45 < y.mean() < 0.55


def test_checkerboard_is_uniform_on_black_squares(make_cfg):
    data = _load(make_cfg, "checkerboard", n_train=16000)
    x = data.train.x.astype(np.float64)
    assert x.min() >= -2 and x.max() < 2
    cells = np.floor(x + 2).astype(int)
    assert np.all((cells.sum(axis=1) % 2) == 0)
    counts = np.bincount(data.train.y, minlength=8)
    assert counts.min() > 0.85 * 2000 and counts.max() < 1.15 * 2000
    logp = toy2d_log_density(np.array([[-1.5, -1.5], [-0.5, -1.5], [3.0, 0.0]]), data.info.extra)
    np.testing.assert_allclose(logp[0], -math.log(8))
    assert logp[1] == -np.inf and logp[2] == -np.inf


def _random_mixture(rng, k=5, d=2):
    means = rng.normal(size=(k, d))
    weights = rng.dirichlet(np.ones(k))
    return means, 0.3, weights


def test_mixture_log_density_matches_scipy():
    rng = np.random.default_rng(0)
    means, std, weights = _random_mixture(rng)
    x = rng.normal(scale=1.5, size=(200, 2))
    pdfs = np.stack([multivariate_normal(m, std**2 * np.eye(2)).pdf(x) for m in means], axis=1)
    np.testing.assert_allclose(mixture_log_density(x, means, std, weights), np.log(pdfs @ weights), rtol=1e-10)
    post = mixture_posterior(x, means, std, weights)
    np.testing.assert_allclose(post, pdfs * weights / (pdfs @ weights)[:, None], rtol=1e-8, atol=1e-14)


def test_mixture_is_stable_far_from_the_modes():
    spec = toy2d_spec("8gaussians")
    far = np.array([[50.0, -50.0], [0.0, 0.0]])
    with np.errstate(divide="raise", over="raise", invalid="raise"):  # underflow is fine
        logp = mixture_log_density(far, spec["means"], spec["std"], spec["weights"])
        post = mixture_posterior(far, spec["means"], spec["std"], spec["weights"])
    assert np.isfinite(logp).all() and logp[0] < -1e6
    np.testing.assert_allclose(post.sum(axis=1), 1.0)
    np.testing.assert_allclose(post[1], 1 / 8)  # the origin is equidistant from all modes


def test_posterior_rows_sum_to_one_and_recover_labels(make_cfg):
    data = _load(make_cfg, "25gaussians")
    spec = data.info.extra
    post = mixture_posterior(data.test.x, spec["means"], spec["std"], spec["weights"])
    assert post.shape == (1000, 25)
    np.testing.assert_allclose(post.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(post.argmax(axis=1), data.test.y)


@pytest.mark.parametrize(
    ("kind", "box", "h"),
    [
        ("8gaussians", (-2.3, 2.3, -2.3, 2.3), 0.005),
        ("25gaussians", (-2.5, 2.5, -2.5, 2.5), 0.01),
        ("moons", (-2.5, 2.5, -1.5, 1.5), 0.02),
        ("checkerboard", (-2.5, 2.5, -2.5, 2.5), 0.05),
    ],
)
def test_density_integrates_to_one(kind, box, h):
    grid, area = _grid(*box, h)
    total = np.exp(toy2d_log_density(grid, toy2d_spec(kind))).sum() * area
    assert abs(total - 1.0) < 1e-3


def test_moons_quadrature_is_converged():
    spec = toy2d_spec("moons")
    x = np.random.default_rng(3).uniform(-2, 2, size=(300, 2))
    np.testing.assert_allclose(moons_log_density(x, spec), moons_log_density(x, spec, n_quad=2048), atol=1e-8)


def test_entropy_estimates():
    spec = toy2d_spec("8gaussians")
    est = mixture_entropy_mc(spec["means"], spec["std"], spec["weights"], n=50_000, seed=1)
    # Well separated modes: H = log 8 + log(2 pi e std^2) up to exponentially small overlap.
    closed = math.log(8) + math.log(2 * math.pi * math.e * spec["std"] ** 2)
    assert 0 < est.stderr < 0.01
    assert abs(est.value - closed) < 4 * est.stderr
    assert toy2d_entropy(toy2d_spec("checkerboard")) == (math.log(8), 0.0)
    moons = toy2d_spec("moons")
    a, b = toy2d_entropy(moons, n=50_000, seed=1), toy2d_entropy(moons, n=50_000, seed=2)
    assert abs(a.value - b.value) < 4 * math.hypot(a.stderr, b.stderr)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"weights": [0.5, 0.6]}, "sum to 1"),
        ({"std": 0.0}, "std"),
        ({"means": [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]}, r"x must be \(n, 3\)"),
        ({"weights": [1.0]}, "weights must have shape"),
    ],
)
def test_mixture_input_validation(kwargs, match):
    args = {"x": np.zeros((3, 2)), "means": [[0.0, 0.0], [1.0, 1.0]], "std": 0.1, "weights": [0.5, 0.5]}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        mixture_log_density(**args)


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown toy2d kind"):
        toy2d_spec("spirals")
    with pytest.raises(ValueError, match="unknown toy2d kind"):
        toy2d_log_density(np.zeros((1, 2)), {"kind": "spirals"})
