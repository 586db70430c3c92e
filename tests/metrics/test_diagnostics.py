"""Mode collapse and anomaly diagnostics on constructed cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from genmodels.metrics.diagnostics import auroc, class_coverage, mode_coverage

MEANS = np.array([[np.cos(a) * 2, np.sin(a) * 2] for a in np.linspace(0, 2 * np.pi, 8, endpoint=False)])


def test_mode_coverage_full_and_collapsed() -> None:
    rng = np.random.default_rng(0)
    full = MEANS[rng.integers(0, 8, 4000)] + rng.normal(scale=0.02, size=(4000, 2))
    assert mode_coverage(full, MEANS, 0.02) == (8, pytest.approx(1 - np.exp(-4.5), abs=0.01))  # P(|x| < 3 std) in 2-D
    collapsed = MEANS[rng.integers(0, 2, 4000)] + rng.normal(scale=0.02, size=(4000, 2))
    covered, hq = mode_coverage(collapsed, MEANS, 0.02)
    assert covered == 2 and hq > 0.98
    noise = rng.uniform(-3, 3, size=(4000, 2))
    assert mode_coverage(noise, MEANS, 0.02)[1] < 0.05


def test_class_coverage() -> None:
    real = np.repeat(np.arange(10), 10)
    all_classes = np.eye(10)[np.repeat(np.arange(10), 5)]
    assert class_coverage(all_classes, real, 10) == 1.0
    three = np.eye(10)[np.repeat([0, 1, 2], 20)]
    assert class_coverage(three, real, 10) == pytest.approx(0.3)


def test_auroc_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 5, 200).astype(float), rng.integers(1, 7, 150).astype(float)
    expected = roc_auc_score(np.r_[np.zeros(200), np.ones(150)], np.r_[a, b])
    assert auroc(a, b) == pytest.approx(expected)
    assert auroc(np.zeros(3), np.ones(3)) == 1.0
    with pytest.raises(ValueError):
        auroc(np.array([]), np.ones(2))


def test_average_ranks_match_scipy() -> None:
    from scipy.stats import rankdata

    from genmodels.metrics.diagnostics import average_ranks

    a = np.random.default_rng(0).integers(0, 7, size=200).astype(float)
    np.testing.assert_array_equal(average_ranks(a), rankdata(a))
