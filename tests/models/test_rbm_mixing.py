"""The RBM sampler's convergence diagnostic: split R-hat against known cases, and the
R-hat-driven burn-in on tiny RBMs whose mixing is known (fast: weak weights; never: two
modes held apart by strong weights)."""

from __future__ import annotations

import math

import pytest
import torch

import genmodels.models.rbm  # noqa: F401  (registers the family)
from genmodels.data.base import DatasetInfo
from genmodels.models import build_model
from genmodels.models.rbm.mixing import RHAT_MIXED, MixingReport, split_rhat
from genmodels.models.rbm.model import RBM, RBMConfig



def _rhat_reference(x: torch.Tensor) -> float:
    """Split R-hat without rank normalisation, written out from BDA3 (eq. 11.3-11.4) in plain Python."""
    t, m = x.shape
    n = t // 2
    chains = [x[:n, j].tolist() for j in range(m)] + [x[n : 2 * n, j].tolist() for j in range(m)]
    means = [sum(c) / n for c in chains]
    grand = sum(means) / len(means)
    b = n / (len(chains) - 1) * sum((mu - grand) ** 2 for mu in means)
    w = sum(sum((v - mu) ** 2 for v in c) / (n - 1) for c, mu in zip(chains, means)) / len(chains)
    return math.sqrt(((n - 1) / n * w + b / n) / w)


def test_plain_split_rhat_matches_the_textbook_formula() -> None:
    x = torch.randn(40, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x[:, 0] += 1.0
    assert split_rhat(x, rank=False) == pytest.approx(_rhat_reference(x), rel=1e-12)


def test_independent_draws_give_rhat_near_one() -> None:
    x = torch.randn(200, 100, generator=torch.Generator().manual_seed(1))
    assert 0.99 < split_rhat(x) < RHAT_MIXED
    heavy = torch.distributions.StudentT(1.0).sample((200, 100))  # Cauchy: rank normalisation keeps it near 1
    assert split_rhat(heavy) < RHAT_MIXED


def test_stuck_chains_and_drifting_chains_give_large_rhat() -> None:
    g = torch.Generator().manual_seed(2)
    stuck = torch.randn(100, 40, generator=g) + torch.tensor([0.0, 3.0]).repeat(20)  # two modes, no switching
    assert split_rhat(stuck) > 1.5
    drift = torch.randn(100, 40, generator=g) + torch.linspace(0, 2, 100)[:, None]  # every chain still moving
    assert split_rhat(drift) > 1.1
    spread = torch.randn(100, 40, generator=g) * torch.tensor([1.0, 4.0]).repeat(20)  # same mean, different spreads
    assert split_rhat(spread, rank=False) < 1.05 < split_rhat(spread)  # the folded R-hat sees it


def test_split_rhat_rejects_short_or_misshapen_traces() -> None:
    with pytest.raises(ValueError, match="4 draws"):
        split_rhat(torch.zeros(3, 10))
    with pytest.raises(ValueError, match="draws, chains"):
        split_rhat(torch.zeros(10))


def _rbm(weight: torch.Tensor, hbias: torch.Tensor, vbias: torch.Tensor, **cfg: object) -> RBM:
    info = DatasetInfo("tiny", "image", (1, 1, weight.shape[0]), 2, None, (0.0, 1.0))
    model = build_model("rbm", {"visible": "bernoulli", "hidden": weight.shape[1], "method": "cd", **cfg}, info)
    with torch.no_grad():
        model.weight.copy_(weight)
        model.hbias.copy_(hbias)
        model.vbias.copy_(vbias)
        model.stat_count.fill_(2.0)  # data marginals of 1/2: the chain starts are fair coins
        model.stat_sum.fill_(1.0)
    return model.requires_grad_(False)


def test_weakly_coupled_rbm_mixes_before_the_cap() -> None:
    g = torch.Generator().manual_seed(3)
    model = _rbm(0.3 * torch.randn(8, 4, generator=g), torch.zeros(4), torch.zeros(8), burn_in_min=20, burn_in_max=2000, rhat_every=20)
    x = model.sample(400, torch.Generator().manual_seed(4))
    report = model.last_mixing
    assert x.shape == (400, 1, 1, 8)
    assert not report.capped and report.mixed and report.rhat_max < RHAT_MIXED
    assert report.burn_in_sweeps <= 200  # a few dozen sweeps suffice; the cap is far


def test_two_mode_rbm_with_strong_weights_hits_the_cap_and_says_so() -> None:
    # one hidden unit: h = 1 turns every pixel on, h = 0 off; leaving a mode takes ~e^12 sweeps
    model = _rbm(torch.full((8, 1), 6.0), torch.tensor([-24.0]), torch.full((8,), -3.0), burn_in_min=20, burn_in_max=300, rhat_every=20)
    model.sample(200, torch.Generator().manual_seed(5))
    report = model.last_mixing
    assert report.capped and not report.mixed and report.burn_in_sweeps == 300
    assert report.rhat_max > 2.0
    values, notes = model.sampler_mixing(200, torch.Generator().manual_seed(5))
    assert values["mixing_capped"] == 1.0 and "CAPPED" in notes["burn_in_sweeps"]


def test_fixed_burn_in_runs_its_sweeps_and_still_reports_rhat() -> None:
    g = torch.Generator().manual_seed(6)
    model = _rbm(0.3 * torch.randn(8, 4, generator=g), torch.zeros(4), torch.zeros(8), burn_in=60)
    model.sample(100, torch.Generator().manual_seed(7))
    report = model.last_mixing
    assert report.burn_in_sweeps == 60 and not report.capped and math.isfinite(report.rhat_max)
    assert set(report.as_metrics()) >= {"burn_in_sweeps", "rhat_energy", "rhat_max", "mixing_capped"}


def test_auto_burn_in_is_reproducible_for_a_seed() -> None:
    g = torch.Generator().manual_seed(8)
    model = _rbm(0.5 * torch.randn(8, 4, generator=g), torch.zeros(4), torch.zeros(8), burn_in_min=20, rhat_every=10)
    a = model.sample(64, torch.Generator().manual_seed(9))
    first = model.last_mixing
    b = model.sample(64, torch.Generator().manual_seed(9))
    assert torch.equal(a, b) and model.last_mixing == first and isinstance(first, MixingReport)


def test_burn_in_range_is_validated() -> None:
    with pytest.raises(ValueError, match="burn_in_min"):
        RBMConfig(burn_in_min=500, burn_in_max=100)
    with pytest.raises(ValueError):
        RBMConfig(burn_in=0)
    assert RBMConfig(burn_in="auto").burn_in == "auto" and RBMConfig(burn_in=7).burn_in == 7


def _exact_probabilities(model: RBM) -> torch.Tensor:
    """``p(v)`` of every binary visible vector of a Bernoulli RBM by enumeration (rows in binary order)."""
    d = model.dim
    states = ((torch.arange(2**d)[:, None] // 2 ** torch.arange(d)) % 2).to(model.weight.dtype)
    logp = -model.free_energy(states)
    return torch.softmax(logp, 0)


def _frequencies(model: RBM, x: torch.Tensor) -> torch.Tensor:
    codes = (x.reshape(len(x), -1).round().long() * 2 ** torch.arange(model.dim)).sum(1)
    return torch.bincount(codes, minlength=2**model.dim).double() / len(x)


def test_tempered_sampler_leaves_the_exact_distribution_invariant() -> None:
    g = torch.Generator().manual_seed(10)
    weight, hbias = 2.5 * torch.randn(4, 3, generator=g), torch.randn(3, generator=g)  # strong enough to need the swaps
    model = _rbm(weight, hbias, -torch.ones(4), burn_in=60, sample_replicas=4).double()
    x = model.sample(8000, torch.Generator().manual_seed(11)).double()
    exact, freq = _exact_probabilities(model), _frequencies(model, x)
    assert 0.5 * (exact - freq).abs().sum() < 0.025  # total variation over the 16 states (plain Gibbs: 0.005-0.011)
    assert model.last_mixing.replicas == 4 and min(model.last_mixing.swap_rates) > 0.1


def test_tempering_mixes_the_two_mode_rbm_that_plain_gibbs_cannot() -> None:
    weight, hbias, vbias = torch.full((8, 1), 6.0), torch.tensor([-24.0]), torch.full((8,), -3.0)
    model = _rbm(weight, hbias, vbias, burn_in_min=20, burn_in_max=3000, rhat_every=20, sample_replicas=8).double()
    x = model.sample(300, torch.Generator().manual_seed(12)).double()  # ~1000 sweeps: each chain crosses many times
    report = model.last_mixing
    assert not report.capped and report.rhat_max < RHAT_MIXED
    on = (x.reshape(len(x), -1).mean(1) > 0.5).double().mean()
    exact = _exact_probabilities(model)
    assert abs(float(on) - float(exact[-1] / (exact[0] + exact[-1]))) < 0.1  # both modes in their exact proportion


def test_mixing_metric_reports_the_sampler_and_is_undefined_without_chains() -> None:
    from types import SimpleNamespace

    from genmodels.metrics.builtin.mixing import mixing
    from genmodels.metrics.registry import Undefined, metric_of_key

    g = torch.Generator().manual_seed(13)
    model = _rbm(0.3 * torch.randn(8, 4, generator=g), torch.zeros(4), torch.zeros(8), burn_in_min=20, rhat_every=20)
    inp = SimpleNamespace(model=model, cfg=SimpleNamespace(batch_size=200), seed=0)
    out = mixing(inp)
    assert out["burn_in_sweeps"] == model.last_mixing.burn_in_sweeps and out["mixing_capped"] == 0.0
    assert out["rhat_max"] < RHAT_MIXED and "mixed" in out["notes"]["burn_in_sweeps"]
    with pytest.raises(Undefined, match="no Markov chain"):
        mixing(SimpleNamespace(model=torch.nn.Linear(2, 2), cfg=inp.cfg, seed=0))
    assert metric_of_key("rhat_max").name == "mixing"


def test_too_short_a_fixed_burn_in_reports_no_rhat_and_says_why() -> None:
    g = torch.Generator().manual_seed(14)
    model = _rbm(0.3 * torch.randn(8, 4, generator=g), torch.zeros(4), torch.zeros(8), burn_in=5)
    values, notes = model.sampler_mixing(50, torch.Generator().manual_seed(15))
    assert values["burn_in_sweeps"] == 5.0 and values["rhat_max"] is None and values["rhat_energy"] is None
    assert "fewer than 4 traced draws" in notes["burn_in_sweeps"]
