"""Precision/recall/density/coverage: constructed cases and a brute-force reference."""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from genmodels.metrics import prdc_from_features
from genmodels.metrics.prdc import knn_squared_radii


def brute_force_prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """Naeem et al.'s reference formulas on full distance matrices."""
    real_radii = np.sort(cdist(real, real), axis=1)[:, k]  # column 0 is the point itself
    fake_radii = np.sort(cdist(fake, fake), axis=1)[:, k]
    dist = cdist(real, fake)
    return {
        "precision": float((dist < real_radii[:, None]).any(axis=0).mean()),
        "recall": float((dist < fake_radii[None, :]).any(axis=1).mean()),
        "density": float((dist < real_radii[:, None]).sum() / (k * len(fake))),
        "coverage": float((dist.min(axis=1) < real_radii).mean()),
    }


def test_identical_sets():
    x = np.random.default_rng(0).standard_normal((300, 8)).astype(np.float32)
    result = prdc_from_features(x, x.copy(), k=5)
    assert result["precision"] == result["recall"] == result["coverage"] == 1.0
    # each real ball holds its own copy plus k-1 neighbours (open ball): density 1,
    # up to rounding of the k-th neighbour's distance in float32
    assert result["density"] == pytest.approx(1.0, abs=0.01)


def test_disjoint_far_apart_sets():
    rng = np.random.default_rng(1)
    real = rng.standard_normal((200, 4))
    fake = rng.standard_normal((150, 4)) + 100.0
    result = prdc_from_features(real, fake, k=3)
    assert result == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_fake_inside_small_part_of_real_support():
    rng = np.random.default_rng(2)
    real = rng.uniform(-1, 1, (2000, 2))
    fake = rng.uniform(-0.3, 0.3, (500, 2))  # all inside, covering ~9% of the real square
    result = prdc_from_features(real, fake, k=5)
    assert result["precision"] > 0.95
    assert result["recall"] < 0.3
    assert result["coverage"] < 0.3


@pytest.mark.parametrize("block_size", [7, 64, 2048])
def test_matches_brute_force_for_any_block_size(block_size):
    rng = np.random.default_rng(3)
    real = rng.standard_normal((130, 6))
    fake = rng.standard_normal((97, 6)) * 1.3 + 0.2
    ours = prdc_from_features(real, fake, k=4, block_size=block_size)
    ref = brute_force_prdc(real, fake, k=4)
    assert ours.keys() == ref.keys()
    for key in ref:
        assert ours[key] == pytest.approx(ref[key], abs=1e-12), key


def test_knn_radii_exclude_self_and_match_brute_force():
    x = np.random.default_rng(4).standard_normal((50, 3))
    ref = np.sort(cdist(x, x) ** 2, axis=1)[:, 3]
    for block_size in (1, 6, 50):
        np.testing.assert_allclose(knn_squared_radii(x, k=3, block_size=block_size), ref, rtol=1e-9)
    duplicated = np.concatenate([x, x[:1]])  # the duplicate is a neighbour at distance 0
    assert knn_squared_radii(duplicated, k=1)[0] == pytest.approx(0.0, abs=1e-12)


def test_float32_and_torch_inputs_agree_with_float64():
    rng = np.random.default_rng(5)
    real, fake = rng.standard_normal((120, 16)), rng.standard_normal((110, 16)) + 0.1
    ref = prdc_from_features(real, fake, k=5)
    ours = prdc_from_features(torch.from_numpy(real).float(), fake.astype(np.float32), k=5)
    for key in ref:
        assert ours[key] == pytest.approx(ref[key], abs=0.02), key


def test_rejects_bad_input():
    x = np.zeros((10, 2))
    with pytest.raises(ValueError, match="k must"):
        prdc_from_features(x, x, k=0)
    with pytest.raises(ValueError, match="at least 6"):
        prdc_from_features(np.zeros((5, 2)), x, k=5)
    with pytest.raises(ValueError, match="dimensions differ"):
        prdc_from_features(x, np.zeros((10, 3)))
    with pytest.raises(ValueError, match="block_size"):
        prdc_from_features(x, x, block_size=0)
