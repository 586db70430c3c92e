"""The likelihood convention's helpers: level cells, Gaussian cell masses, proposals, level draws."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import halfnorm, norm

from genmodels.models.core.dequantize import draw_in_cells, level_edges, log_normal_cell_mass, to_levels

K = 5


def test_level_cells_partition_the_line_with_open_outer_cells() -> None:
    x = torch.arange(K, dtype=torch.float64) / (K - 1)
    lo, hi = level_edges(x, K)
    assert lo[0] == -math.inf and hi[-1] == math.inf
    torch.testing.assert_close(hi[:-1], lo[1:])  # adjacent, no gaps
    torch.testing.assert_close(lo[1:], torch.arange(1, K, dtype=torch.float64) / K)


@pytest.mark.parametrize(("lo", "hi"), [(-math.inf, 0.2), (0.1, 0.2), (0.5, math.inf), (3.0, 3.1), (-9.0, -8.9), (0.3, 0.3 + 1e-7), (-math.inf, math.inf)])
def test_gaussian_cell_mass_matches_scipy_in_both_tails(lo: float, hi: float) -> None:
    t = lambda a: torch.tensor([a], dtype=torch.float64)  # noqa: E731
    ours = float(log_normal_cell_mass(t(lo), t(hi), t(0.0), t(0.0)))
    # scipy on the side where the difference does not cancel
    ref = math.log(norm.sf(lo) - norm.sf(hi)) if lo > 0 else math.log(norm.cdf(hi) - norm.cdf(lo))
    assert ours == pytest.approx(ref, rel=1e-9)


def test_gaussian_cell_masses_of_all_levels_sum_to_one() -> None:
    x = torch.arange(K, dtype=torch.float64) / (K - 1)
    lo, hi = level_edges(x, K)
    for mean, std in ((0.5, 0.1), (-0.3, 0.02), (1.7, 0.5)):
        m = log_normal_cell_mass(lo, hi, torch.full((K,), mean), torch.full((K,), math.log(std)))
        assert float(m.exp().sum()) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("tails", [False, True])
def test_cell_proposal_stays_in_its_cell_and_reports_its_density(tails: bool) -> None:
    k = torch.arange(K, dtype=torch.float64).repeat(2000)
    x = (k / (K - 1)).view(-1, 1)
    v, log_q = draw_in_cells(x, K, torch.Generator().manual_seed(0), tails)
    lo, hi = level_edges(x, K)
    if not tails:
        lo, hi = lo.clamp_min(0.0), hi.clamp_max(1.0)
    assert ((v >= lo) & (v < hi)).all()
    u = v.view(-1).numpy()
    edge = (k == 0) | (k == K - 1)
    if tails:  # half-normal of scale 1/K from the inner edge outwards
        dist = np.where(k.numpy() == 0, 1.0 / K - u, u - (K - 1) / K)
        expected = np.where(edge.numpy(), halfnorm.logpdf(dist, scale=1.0 / K), math.log(K))
    else:
        expected = np.full(len(u), math.log(K))
    np.testing.assert_allclose(log_q.numpy(), expected, rtol=1e-9)


def test_to_levels_maps_a_draw_to_its_cell() -> None:
    v = torch.tensor([-3.0, 0.0, 0.19, 0.2, 0.5, 0.99, 1.0, 7.0])
    lo, hi = level_edges(to_levels(v, K), K)
    assert ((v >= lo) & (v < hi)).all()
    assert torch.equal(to_levels(v, None), v)


def test_gaussian_cell_mass_gradients_are_finite_on_open_cells() -> None:
    """The outer cells reach to infinity; their mass and its gradient stay finite (no inf - inf, no 0 * inf)."""
    x = torch.arange(K, dtype=torch.float64) / (K - 1)
    lo, hi = level_edges(x, K)
    mean = torch.tensor([-3.0, 0.2, 0.5, 0.8, 4.0], dtype=torch.float64, requires_grad=True)
    log_std = torch.full((K,), math.log(0.05), dtype=torch.float64, requires_grad=True)
    mass = log_normal_cell_mass(lo, hi, mean, log_std)
    mass.sum().backward()
    assert torch.isfinite(mass).all() and torch.isfinite(mean.grad).all() and torch.isfinite(log_std.grad).all()
    # the bottom cell holds Phi((1/K - mean)/s): its gradient in the mean is -pdf/(s Phi)
    z = (1 / K - (-3.0)) / 0.05
    assert float(mass[0]) == pytest.approx(math.log(norm.cdf(z)), abs=1e-12)
    assert float(mean.grad[1]) != 0.0
