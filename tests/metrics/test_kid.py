"""KID: unbiased MMD^2 vs a naive double loop, seeding, sign on same/shifted data."""

import numpy as np
import pytest
import torch

from genmodels.metrics import kid_from_features, prdc_from_features
from genmodels.metrics.kid import SubsetKernelSums, polynomial_mmd2


def naive_kid(real, fake, subsets, subset_size, degree=3, gamma=None, coef0=1.0, seed=0):
    """Double-loop reference of torch-fidelity's definition (same RandomState draws)."""
    d = real.shape[1]
    gamma = 1.0 / d if gamma is None else gamma
    m = min(subset_size, len(real), len(fake))
    rng = np.random.RandomState(seed)

    def k(u, v):
        return (gamma * float(np.dot(u, v)) + coef0) ** degree

    values = []
    for _ in range(subsets):
        x = real[rng.choice(len(real), m, replace=False)]
        y = fake[rng.choice(len(fake), m, replace=False)]
        xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
        yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
        xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
        values.append((xx + yy) / (m * (m - 1)) - 2 * xy / (m * m))
    return float(np.mean(values)), float(np.std(values))


def test_matches_naive_double_loop():
    rng = np.random.default_rng(0)
    real, fake = rng.standard_normal((14, 3)), rng.standard_normal((17, 3)) + 0.4
    ours = kid_from_features(real, fake, subsets=6, subset_size=9, seed=3)
    ref = naive_kid(real, fake, subsets=6, subset_size=9, seed=3)
    np.testing.assert_allclose(ours, ref, rtol=1e-10)


def test_matches_naive_with_other_kernel_parameters():
    rng = np.random.default_rng(1)
    real, fake = rng.standard_normal((10, 4)), rng.standard_normal((10, 4))
    kwargs = dict(subsets=4, subset_size=6, degree=2, gamma=0.7, coef0=0.5, seed=11)
    ours, ref = kid_from_features(real, fake, **kwargs), naive_kid(real, fake, **kwargs)
    np.testing.assert_allclose(ours, ref, rtol=1e-10)


def test_same_distribution_near_zero_and_shift_positive():
    rng = np.random.default_rng(2)
    real = rng.standard_normal((3000, 16)).astype(np.float32)
    same = rng.standard_normal((3000, 16)).astype(np.float32)
    shifted = same + 0.5
    mean_same, std_same = kid_from_features(real, same, subsets=10, subset_size=300)
    mean_shift, _ = kid_from_features(real, shifted, subsets=10, subset_size=300)
    assert abs(mean_same) < 0.01 and std_same > 0
    assert mean_shift > 0.1
    assert mean_shift > 20 * abs(mean_same)


def test_seeded_and_reproducible():
    rng = np.random.default_rng(3)
    real, fake = rng.standard_normal((200, 8)), rng.standard_normal((150, 8))
    first = kid_from_features(real, fake, subsets=10, subset_size=50, seed=5)
    assert kid_from_features(real, fake, subsets=10, subset_size=50, seed=5) == first
    assert kid_from_features(real, fake, subsets=10, subset_size=50, seed=6) != first


def test_subset_size_capped_by_sample_counts():
    rng = np.random.default_rng(4)
    real, fake = rng.standard_normal((40, 5)), rng.standard_normal((30, 5))
    capped = kid_from_features(real, fake, subsets=3, subset_size=1000)
    explicit = kid_from_features(real, fake, subsets=3, subset_size=30)
    assert capped == explicit


def test_float32_close_to_float64_and_torch_input():
    rng = np.random.default_rng(5)
    real, fake = rng.standard_normal((300, 32)), rng.standard_normal((300, 32)) * 1.2
    ref = kid_from_features(real, fake, subsets=5, subset_size=100)
    fake32 = torch.from_numpy(fake).float()
    f32 = kid_from_features(real.astype(np.float32), fake32, subsets=5, subset_size=100)
    np.testing.assert_allclose(f32, ref, rtol=1e-4)


def test_polynomial_mmd2_of_identical_sets_matches_formula():
    x = np.random.default_rng(6).standard_normal((8, 3))
    k = (x @ x.T / 3 + 1) ** 3
    off_diagonal = k.sum() - np.trace(k)
    expected = 2 * off_diagonal / (8 * 7) - 2 * k.sum() / 64
    assert polynomial_mmd2(x, x) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("block_size", "dtype"), [(7, np.float64), (64, np.float64), (2048, np.float32)])
def test_kid_from_prdc_gram_blocks_equals_kid_from_features(block_size, dtype):
    rng = np.random.default_rng(7)
    real = rng.standard_normal((90, 5)).astype(dtype)
    fake = (rng.standard_normal((70, 5)) * 1.2 + 0.3).astype(dtype)
    kwargs = dict(subsets=8, subset_size=40, degree=3, coef0=1, seed=4)
    sums = SubsetKernelSums(len(real), len(fake), real.shape[1], **kwargs)
    prdc = prdc_from_features(real, fake, k=3, block_size=block_size, kid=sums)
    assert prdc == prdc_from_features(real, fake, k=3, block_size=block_size)
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(sums.result(), kid_from_features(real, fake, **kwargs), rtol=rtol)


def test_subset_kernel_sums_checks_coverage_and_shapes():
    x = np.random.default_rng(8).standard_normal((10, 3))
    sums = SubsetKernelSums(10, 10, 3, subsets=2, subset_size=5)
    sums.add("xx", slice(0, 10), slice(0, 10), x @ x.T)
    with pytest.raises(ValueError, match="covers"):
        sums.result()
    with pytest.raises(ValueError, match="part must"):
        sums.add("zz", slice(0, 10), slice(0, 10), x @ x.T)
    with pytest.raises(ValueError, match="built for"):
        prdc_from_features(x, x[:8], k=2, kid=SubsetKernelSums(10, 10, 3, subsets=2, subset_size=5))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(subsets=0), "subsets"),
        (dict(subset_size=1), "subset_size"),
        (dict(degree=0), "degree"),
        (dict(degree=2.5), "degree"),
        (dict(gamma=-1.0), "gamma"),
    ],
)
def test_rejects_bad_parameters(kwargs, message):
    x = np.zeros((10, 2))
    with pytest.raises(ValueError, match=message):
        kid_from_features(x, x, **kwargs)


def test_rejects_bad_features():
    with pytest.raises(ValueError, match="dimensions differ"):
        kid_from_features(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="fake contains NaN"):
        kid_from_features(np.zeros((5, 2)), np.full((5, 2), np.inf))
