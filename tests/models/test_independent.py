"""The ``independent`` baseline: closed-form fit, a normalised discrete likelihood, faithful sampling."""

from __future__ import annotations

import itertools
import math

import torch

from genmodels.data.base import DatasetInfo
from genmodels.models import build_model
from genmodels.models.core.dequantize import bits_per_dim, dequantize

LEVELS = DatasetInfo("tiny", "image", (1, 2, 2), 3, None, (0.0, 1.0))
POINTS = DatasetInfo("pts", "points", (2,), None, None, (-5.0, 5.0))


def fitted(info: DatasetInfo, x: torch.Tensor, **cfg) -> torch.nn.Module:  # noqa: ANN003
    model = build_model("independent", cfg, info)
    model.fit_direct(x, None, torch.Generator().manual_seed(0))
    return model


def test_level_probabilities_are_smoothed_counts() -> None:
    x = torch.tensor([[0, 0.5, 1, 1], [0, 0, 1, 0.5], [1, 0.5, 0, 0]]).view(3, 1, 2, 2)
    model = fitted(LEVELS, x, alpha=0.5)
    # pixel 0 saw levels 0, 0, 2 -> (2 + .5, 0 + .5, 1 + .5) / (3 + 3 * .5)
    torch.testing.assert_close(model.log_probs[0].exp(), torch.tensor([2.5, 0.5, 1.5], dtype=torch.float64) / 4.5)


def test_discrete_probabilities_sum_to_one_and_bits_per_dim_is_the_discrete_nll() -> None:
    x = torch.randint(0, 3, (50, 1, 2, 2), generator=torch.Generator().manual_seed(1)).float() / 2
    model = fitted(LEVELS, x)
    grid = torch.tensor(list(itertools.product([0.0, 0.5, 1.0], repeat=4))).view(-1, 1, 2, 2)
    ll = model.log_likelihood(dequantize(grid, 3, torch.Generator().manual_seed(2)), torch.Generator())
    discrete = ll - 4 * math.log(3)  # density K^D P(k) -> P(k)
    assert math.isclose(float(discrete.double().exp().sum()), 1.0, rel_tol=1e-5)
    bpd = bits_per_dim(ll, 4, 3)
    k = torch.round(grid.view(-1, 4) * 2).long()
    by_hand = -sum(model.log_probs[d, k[:, d]] for d in range(4)) / (4 * math.log(2))
    torch.testing.assert_close(bpd.double(), by_hand, rtol=1e-5, atol=1e-6)


def test_samples_follow_the_fitted_marginals() -> None:
    x = (torch.rand(400, 1, 2, 2, generator=torch.Generator().manual_seed(3)) < 0.2).float()  # levels 0 and 2 only
    model = fitted(LEVELS, x, alpha=1e-3)
    s = model.sample(20000, torch.Generator().manual_seed(4)).view(-1, 4)
    assert set(s.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(s.mean(0), x.view(-1, 4).mean(0), atol=0.02, rtol=0)


def test_continuous_data_get_one_gaussian_per_dimension() -> None:
    x = torch.randn(5000, 2, generator=torch.Generator().manual_seed(5)) * torch.tensor([2.0, 0.5]) + torch.tensor([1.0, -1.0])
    model = fitted(POINTS, x)
    torch.testing.assert_close(model.mean.float(), torch.tensor([1.0, -1.0]), atol=0.05, rtol=0)
    torch.testing.assert_close(model.std.float(), x.std(0, correction=0))  # the maximum-likelihood std
    ref = torch.distributions.Normal(model.mean, model.std).log_prob(x.double()).sum(1)
    torch.testing.assert_close(model.log_likelihood(x.double(), torch.Generator()).double(), ref)
