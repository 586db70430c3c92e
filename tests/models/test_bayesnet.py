"""Bayesian network specifics: Chow-Liu finds a known tree, probabilities and densities normalise."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import genmodels.models.bayesnet  # noqa: F401  (registers the family)
from genmodels.data.base import DatasetInfo
from genmodels.models import build_model
from genmodels.models.bayesnet.model import chow_liu_tree, mutual_information, pair_counts

TINY = DatasetInfo("tiny", "image", (1, 1, 3), 3, None, (0.0, 1.0))
POINTS = DatasetInfo("toy2d", "points", (2,), None, None, (-3.0, 3.0))


def sample_tree(n: int, edges: list[tuple[int, int]], states: int, keep: float, seed: int) -> np.ndarray:
    """Data from a known tree: the root uniform, each child copies its parent w.p. ``keep``, else uniform."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 1 + len(edges)), dtype=np.int64)
    x[:, 0] = rng.integers(0, states, n)
    for parent, child in edges:  # listed parents first
        copy = rng.random(n) < keep
        x[:, child] = np.where(copy, x[:, parent], rng.integers(0, states, n))
    return x


def test_chow_liu_recovers_a_known_five_variable_tree() -> None:
    edges = [(0, 3), (3, 1), (3, 4), (1, 2)]
    codes = torch.from_numpy(sample_tree(4000, edges, states=3, keep=0.6, seed=0))
    mi = mutual_information(pair_counts(codes, 3), 5, 3)
    parents, order = chow_liu_tree(mi.numpy(), root=0)
    found = {frozenset((int(p), i)) for i, p in enumerate(parents) if p >= 0}
    assert found == {frozenset(e) for e in edges}
    assert parents[0] == -1 and order[0] == 0
    assert all(list(order).index(p) < list(order).index(i) for i, p in enumerate(parents) if p >= 0)  # topological


def test_mutual_information_closed_forms() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, 20000)
    codes = torch.from_numpy(np.stack([a, a, rng.integers(0, 4, 20000)], 1))
    mi = mutual_information(pair_counts(codes, 4), 3, 4)
    p = np.bincount(a, minlength=4) / len(a)
    assert float(mi[0, 1]) == pytest.approx(-(p * np.log(p)).sum(), rel=1e-12)  # I(A; A) = H(A)
    assert float(mi[0, 2]) < 1e-3 and torch.equal(mi, mi.T) and float(mi.diagonal().abs().sum()) == 0.0


@pytest.mark.parametrize("bins", [None, 2])
def test_probabilities_sum_to_one_over_all_states(bins: int | None) -> None:
    model = build_model("bayesnet", {"image_bins": bins}, TINY)
    x = torch.randint(0, 3, (50, *TINY.shape), generator=torch.Generator().manual_seed(0)) / 2.0
    model.fit_direct(x, None, torch.Generator())
    levels = torch.tensor(list(itertools.product(range(3), repeat=3)), dtype=torch.float64)
    v = ((levels + 0.5) / 3).view(-1, *TINY.shape)  # bin centres in the dequantized space
    mass = model.log_likelihood(v, torch.Generator()).exp().sum() / 3**3  # density x cell volume, summed
    assert float(mass) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("binning", ["even", "ends"])
def test_binned_levels_sum_to_one_and_ends_keep_their_own_state(binning: str) -> None:
    info = DatasetInfo("tiny5", "image", (1, 1, 2), 5, None, (0.0, 1.0))
    model = build_model("bayesnet", {"image_bins": 3, "image_binning": binning}, info)
    expected = {"even": [0, 0, 1, 1, 2], "ends": [0, 1, 1, 1, 2]}[binning]  # ends: {0}, {1, 2, 3}, {4}
    assert model.level_state.tolist() == expected
    x = torch.randint(0, 5, (80, *info.shape), generator=torch.Generator().manual_seed(0)) / 4.0
    model.fit_direct(x, None, torch.Generator())
    levels = torch.tensor(list(itertools.product(range(5), repeat=2)), dtype=torch.float64)
    v = ((levels + 0.5) / 5).view(-1, *info.shape)
    assert float(model.log_likelihood(v, torch.Generator()).exp().sum() / 5**2) == pytest.approx(1.0, abs=1e-12)
    draws = model.sample(4000, torch.Generator().manual_seed(1))
    k = torch.round(draws * 4).long().flatten()
    assert set(k.tolist()) == set(range(5))  # every level reachable from its state


def test_default_states_fit_28x28_images_at_256_levels() -> None:
    mnist = DatasetInfo("mnist5k", "image", (1, 28, 28), 256, 10, (0.0, 1.0))
    model = build_model("bayesnet", {}, mnist)  # one state per level (784 x 256) would not fit: no error, the most that fit
    assert model.n_states == 20 and 784 * model.n_states <= 16384
    assert model.first_level[:2].tolist() == [0, 1] and model.first_level[-2:].tolist() == [255, 256]
    assert build_model("bayesnet", {}, TINY).n_states == 3  # small images keep one state per level (exact)
    with pytest.raises(ValueError, match=r"model.image_bins: .* set model.image_bins to at most 20"):
        build_model("bayesnet", {"image_bins": 64}, mnist)


def test_point_density_with_tails_integrates_to_one() -> None:
    model = build_model("bayesnet", {"point_bins": 5, "margin": 0.1}, POINTS)
    x = torch.randn(300, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    model.fit_direct(x, None, torch.Generator())
    # midpoints of cells 1/10 of a bin wide, aligned with the bin edges, out to 20 bin widths beyond them
    cells = torch.arange(-200, 250, dtype=torch.float64) + 0.5
    axes = [model.lo[i] + cells * 0.1 * model.width[i] for i in range(2)]
    grid = torch.cartesian_prod(*axes)
    mass = model.log_likelihood(grid, torch.Generator()).exp().sum() * (0.1 * model.width).prod()
    assert float(mass) == pytest.approx(1.0, abs=1e-3)
    far = model.log_likelihood(torch.tensor([[1e3, -1e3]], dtype=torch.float64), torch.Generator())
    assert torch.isfinite(far).all()


def test_ancestral_samples_follow_the_network() -> None:
    model = build_model("bayesnet", {}, TINY)
    x = torch.from_numpy(sample_tree(400, [(0, 1), (1, 2)], states=3, keep=0.7, seed=1)).float().view(-1, *TINY.shape) / 2
    model.fit_direct(x, None, torch.Generator())
    s = model.sample(60000, torch.Generator().manual_seed(0))
    assert s.shape == (60000, *TINY.shape) and s.dtype == torch.float32
    assert set(torch.unique(s).tolist()) <= {0.0, 0.5, 1.0}  # the bin value k / (K - 1)
    states = torch.round(s.view(-1, 3) * 2).long()
    freq = torch.bincount(states @ torch.tensor([9, 3, 1]), minlength=27).double() / len(states)
    levels = torch.tensor(list(itertools.product(range(3), repeat=3)), dtype=torch.float64)
    exact = model.log_likelihood(((levels + 0.5) / 3).view(-1, *TINY.shape), torch.Generator()).exp() / 27
    assert float((freq - exact).abs().max()) < 0.01


def test_point_samples_and_fit_are_deterministic() -> None:
    x = torch.randn(500, 2, generator=torch.Generator().manual_seed(0))
    states = []
    for _ in range(2):
        model = build_model("bayesnet", {}, POINTS)
        stats = model.fit_direct(x, None, torch.Generator().manual_seed(0))
        states.append(model.state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert stats["tree_mutual_information"] >= 0.0
    a, b = (model.sample(1000, torch.Generator().manual_seed(2)) for _ in range(2))
    torch.testing.assert_close(a, b)
    assert a.shape == (1000, 2) and torch.isfinite(a).all()
    hi = model.lo + model.config.point_bins * model.width
    inside = ((a >= model.lo.float()) & (a <= hi.float())).all(1).float().mean()
    assert float(inside) > 0.95  # tails hold little mass


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        build_model("bayesnet", {"image_bins": 4}, TINY)
    model = build_model("bayesnet", {}, TINY)
    with pytest.raises(RuntimeError, match="not fitted"):
        model.sample(3, torch.Generator())
    with pytest.raises(ValueError, match="too many"):
        pair_counts(torch.zeros(2, 2000, dtype=torch.int64), 17)
    model.fit_direct(torch.zeros(4, *TINY.shape), None, torch.Generator())
    with pytest.raises(ValueError, match="temperature"):
        model.sample(3, torch.Generator(), temperature=0.0)
    with pytest.raises(ValueError, match="shape"):
        model.log_likelihood(torch.zeros(2, 3), torch.Generator())
    with pytest.raises(ValueError, match="square"):
        chow_liu_tree(np.zeros((2, 3)))
