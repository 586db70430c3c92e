"""The memorisation audit flags constructed copying and stays quiet on fresh data."""

from __future__ import annotations

import numpy as np
import pytest

from genmodels.metrics.memorisation import copy_share, ct_statistic, nn_train_share

RNG = np.random.default_rng(0)
TRAIN = RNG.normal(size=(1000, 8))
TEST = RNG.normal(size=(300, 8))
FRESH = RNG.normal(size=(600, 8))  # a perfect generator: new draws from the same law
COPIES = TRAIN[RNG.choice(1000, 600)] + RNG.normal(scale=1e-3, size=(600, 8))  # near-copies of training points


def test_ct_is_strongly_negative_for_copies_and_near_zero_for_fresh_samples() -> None:
    assert ct_statistic(TRAIN, TEST, COPIES, cells=10, seed=0) < -5
    assert abs(ct_statistic(TRAIN, TEST, FRESH, cells=10, seed=0)) < 2.5


def test_ct_is_positive_for_samples_farther_than_the_data() -> None:
    assert ct_statistic(TRAIN, TEST, FRESH * 1.5, cells=10, seed=0) > 3


def test_nn_train_share_is_one_half_for_fresh_samples_and_higher_for_copies() -> None:
    assert nn_train_share(TRAIN, TEST, FRESH, seed=0) == pytest.approx(0.5, abs=0.06)
    # a copy lands in the size-matched training subset with probability 300 / 1000, else it is like fresh data
    assert nn_train_share(TRAIN, TEST, COPIES, seed=0) == pytest.approx(0.3 + 0.7 * 0.5, abs=0.07)


def test_copy_share_compares_at_the_dataset_levels() -> None:
    train = np.array([[0.0, 0.5], [1.0, 1.0]])
    samples = np.array([[0.01, 0.49], [0.5, 0.5], [1.0, 0.99]])
    assert copy_share(samples, train, levels=3) == pytest.approx(2 / 3)
    assert copy_share(samples, train, levels=None) == 0.0


def test_nn_train_share_reads_images_in_data_space_and_counts_ties_half() -> None:
    train = np.zeros((4, 1, 2, 2))
    test = np.zeros((4, 1, 2, 2))
    # every sample is equally near a training and a test image: ties count half
    assert nn_train_share(train, test, np.full((5, 1, 2, 2), 0.5), seed=0) == 0.5
    train[:, 0, 0, 0] = 1.0  # now samples at 1 in that pixel sit on training images
    samples = np.zeros((5, 1, 2, 2))
    samples[:, 0, 0, 0] = 1.0
    assert nn_train_share(train, test, samples, seed=0) == 1.0
