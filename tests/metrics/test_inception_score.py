"""Inception score: closed forms and a torch-fidelity-style reference."""

import numpy as np
import pytest
import torch

from genmodels.metrics import inception_score


def reference_is(logits: np.ndarray, splits: int, shuffle: bool, seed: int) -> tuple[float, float]:
    """Straightforward restatement: softmax, per-split KL to the split marginal."""
    x = torch.from_numpy(logits).double()
    n = x.shape[0]
    if shuffle:
        x = x[np.random.RandomState(seed).permutation(n)]
    p = x.softmax(dim=1)
    scores = []
    for i in range(splits):
        chunk = p[i * n // splits : (i + 1) * n // splits]
        marginal = chunk.mean(dim=0, keepdim=True)
        kl = (chunk * (chunk.log() - marginal.log())).sum(dim=1)
        scores.append(kl.mean().exp().item())
    return float(np.mean(scores)), float(np.std(scores))


def one_hot_logits(n: int, classes: int, scale: float = 60.0) -> np.ndarray:
    logits = np.zeros((n, classes))
    logits[np.arange(n), np.arange(n) % classes] = scale
    return logits


def test_confident_uniform_predictions_score_number_of_classes():
    mean, std = inception_score(one_hot_logits(1000, 10), splits=10, shuffle=False)
    assert mean == pytest.approx(10.0, rel=1e-9)
    assert std == pytest.approx(0.0, abs=1e-9)
    mean, _ = inception_score(one_hot_logits(700, 7), splits=1)  # shuffling cannot matter
    assert mean == pytest.approx(7.0, rel=1e-9)


def test_constant_predictions_score_one():
    logits = np.tile(np.random.default_rng(0).standard_normal(5), (100, 1))
    mean, std = inception_score(logits)
    assert mean == pytest.approx(1.0, abs=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_matches_reference_with_uneven_splits():
    logits = np.random.default_rng(1).standard_normal((1003, 20)) * 3
    for shuffle in (False, True):
        ours = inception_score(logits, splits=7, shuffle=shuffle, seed=2020)
        np.testing.assert_allclose(ours, reference_is(logits, 7, shuffle, 2020), rtol=1e-10)


def test_invariant_to_per_row_logit_shift_and_input_type():
    logits = np.random.default_rng(2).standard_normal((200, 6)).astype(np.float32)
    shifted = logits + np.random.default_rng(3).standard_normal((200, 1)).astype(np.float32) * 10
    np.testing.assert_allclose(inception_score(logits), inception_score(torch.from_numpy(shifted)), rtol=1e-5)


def test_extreme_logits_stay_finite():
    logits = one_hot_logits(100, 4, scale=1e4)
    logits[:, 3] = -1e4  # class 3 underflows to exactly 0; its rows become uniform over 0..2
    mean, std = inception_score(logits, splits=1)
    assert np.isfinite(mean) and np.isfinite(std)
    assert mean == pytest.approx(3.0**0.75, rel=1e-9)  # KL = log 3 for 3/4 of rows, 0 else


@pytest.mark.parametrize(
    ("logits", "splits", "message"),
    [
        (np.zeros(10), 1, "2-D"),
        (np.zeros((5, 3)), 10, "at least 10"),
        (np.zeros((5, 3)), 0, "splits"),
        (np.full((20, 3), np.nan), 2, "NaN"),
    ],
)
def test_rejects_bad_input(logits, splits, message):
    with pytest.raises(ValueError, match=message):
        inception_score(logits, splits=splits)
