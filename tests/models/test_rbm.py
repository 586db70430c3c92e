"""RBM specifics: free energy and partition function against brute force, AIS against the
exact log Z, the RAISE/AIS sandwich, the discrete likelihood convention, Gibbs sampling from
data-independent starts, and CD/PCD training."""

from __future__ import annotations

import itertools
import math
from typing import get_args

import pytest
import torch

import genmodels.models.rbm  # noqa: F401  (registers the family before the lead wires it in)
from genmodels.data.base import DatasetInfo
from genmodels.models import build_model
from genmodels.models.rbm.ais import (
    TAIL_SEGMENTS,
    ais_log_z,
    annealing_betas,
    effective_sample_size,
    exact_log_z,
    log_mean_exp_with_stderr,
    raise_log_prob,
    softplus_increment,
)
from genmodels.models.rbm.model import RBM, RBMConfig
from genmodels.models.rbm.visible import VISIBLE_UNITS, BernoulliUnits, BinomialUnits, GaussianUnits, VisibleUnits

DIGITS = DatasetInfo("digits", "image", (1, 8, 8), 17, 10, (0.0, 1.0))
POINTS = DatasetInfo("toy2d", "points", (2,), None, 8, (-2.5, 2.5))


def tiny(visible: str, shape: tuple[int, ...], levels: int | None, hidden: int = 3, scale: float = 0.7, seed: int = 0) -> RBM:
    """A float64 RBM with random weights of the given scale."""
    kind = "image" if levels is not None else "points"
    info = DatasetInfo("tiny", kind, shape, levels, None, (0.0, 1.0))
    model = build_model("rbm", {"visible": visible, "hidden": hidden, "method": "cd"}, info).double()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in (model.weight, model.vbias, model.hbias):
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * scale)
        model.log_std.copy_(torch.randn(model.log_std.shape, generator=g, dtype=torch.float64) * 0.3)
    return model.requires_grad_(False)


def neg_energy(model: RBM, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """``-E(v, h)`` written out term by term from the module docstring, for rows of (v, h)."""
    inter = ((v / model.std() ** 2) if model.visible == "gaussian" else v) @ model.weight
    out = (inter * h).sum(1) + h @ model.hbias
    if model.visible == "gaussian":
        return out - (((v - model.vbias) / model.std()) ** 2).sum(1) / 2
    n = model.trials
    log_c = sum(math.lgamma(n + 1) - torch.lgamma(v[:, i] + 1) - torch.lgamma(n - v[:, i] + 1) for i in range(v.shape[1]))
    return out + v @ model.vbias + log_c


def all_states(dim: int, values: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product(range(values), repeat=dim)), dtype=torch.float64)


@pytest.mark.parametrize(("visible", "levels"), [("bernoulli", 2), ("binomial", 3), ("gaussian", None)])
def test_free_energy_matches_enumeration_of_hidden_states(visible: str, levels: int | None) -> None:
    model = tiny(visible, (4,) if levels is None else (1, 2, 2), levels)
    if levels is None:
        v = torch.randn(5, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    else:
        v = all_states(4, levels)  # every visible vector: v_i in {0, .., K - 1 = N}
    hs = all_states(3, 2)
    brute = -torch.stack([torch.logsumexp(neg_energy(model, row.expand(len(hs), -1), hs), 0) for row in v])
    torch.testing.assert_close(model.free_energy(v), brute)


@pytest.mark.parametrize(("visible", "levels"), [("bernoulli", 2), ("binomial", 3)])
def test_exact_log_z_matches_joint_enumeration(visible: str, levels: int) -> None:
    model = tiny(visible, (1, 2, 2), levels)
    v, hs = all_states(4, levels), all_states(3, 2)
    pairs_v = v.repeat_interleave(len(hs), 0)
    pairs_h = hs.repeat(len(v), 1)
    brute = torch.logsumexp(neg_energy(model, pairs_v, pairs_h), 0)
    assert exact_log_z(model).log_z == pytest.approx(float(brute), abs=1e-9)


def test_gaussian_exact_log_z_matches_quadrature() -> None:
    model = tiny("gaussian", (2,), None, scale=0.5)
    grid = torch.linspace(-12, 12, 1201, dtype=torch.float64)
    step = float(grid[1] - grid[0])
    v = torch.cartesian_prod(grid, grid)
    quad = torch.logsumexp(-model.free_energy(v), 0) + 2 * math.log(step)
    assert exact_log_z(model).log_z == pytest.approx(float(quad), abs=1e-6)


@pytest.mark.parametrize("visible", ["bernoulli", "binomial"])
def test_discrete_likelihood_sums_to_one_over_the_levels(visible: str) -> None:
    """Integrating exp(log p(v)) over [0,1]^D = summing P(k) over every level vector k."""
    levels = 5
    model = tiny(visible, (1, 1, 3), levels)
    centres = (all_states(3, levels) + 0.5) / levels  # one dequantized point per cell
    log_p = model._unnormalized_log_density(centres) - exact_log_z(model).log_z
    total = torch.logsumexp(log_p - 3 * math.log(levels), 0)  # each cell has volume K^-D
    assert float(total) == pytest.approx(0.0, abs=1e-9)


def test_softplus_increment_is_exact() -> None:
    a = torch.linspace(-80, 80, 1001, dtype=torch.float64)
    for lo, hi in [(0.0, 1e-4), (0.3, 0.3001), (0.0, 1.0), (0.9, 1.0)]:
        ref = torch.nn.functional.softplus(hi * a) - torch.nn.functional.softplus(lo * a)
        torch.testing.assert_close(softplus_increment(a, lo, hi), ref, rtol=1e-7, atol=1e-10)


def test_log_mean_exp_stderr_matches_delta_method() -> None:
    w = torch.tensor([1.0, 2.0, 3.0, 6.0], dtype=torch.float64)
    value, se = log_mean_exp_with_stderr(w.log())
    assert value == pytest.approx(math.log(3.0))
    assert se == pytest.approx(float(w.std() / (2 * w.mean())))


def cd_trained(visible: str, digits, hidden: int = 16, epochs: int = 3, method: str = "pcd", seed: int = 0) -> RBM:
    """A small RBM after a few CD/PCD epochs on digits (non-trivial weights)."""
    torch.manual_seed(seed)
    model = build_model("rbm", {"visible": visible, "hidden": hidden, "method": method, "pcd_chains": 64}, DIGITS)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x = torch.from_numpy(digits.train.x)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for s in range(0, len(x) - 63, 64):
            for _, loss in model.training_losses(x[s : s + 64], None, g):
                opt.zero_grad()
                loss.backward()
                opt.step()
    return model.eval()


@pytest.mark.parametrize("visible", ["bernoulli", "binomial", "gaussian"])
def test_ais_matches_exact_log_z_for_16_hidden_units(visible: str, digits) -> None:
    # PCD-trained: a CD-1 binomial RBM keeps a spurious grey mode (h = 0) that holds most of
    # Z and that chains started at the data marginals find only with ~10^4+ temperatures
    model = cd_trained(visible, digits)
    assert model.weight.abs().max() > 0.05  # the weights moved well away from the 0.01 initialisation
    exact = model.exact_log_z().log_z
    est = ais_log_z(model, n_betas=2000, chains=100, generator=torch.Generator().manual_seed(1))
    assert abs(est.log_z - exact) < 0.1, (est, exact)
    assert 0 < est.stderr < 0.1


def test_sure_lower_bound_rescues_ais_when_it_misses_the_grey_mode(digits) -> None:
    """After 5 PCD epochs this binomial RBM keeps almost all of Z in a grey-noise mode at
    h = 0 that the AIS chains never reach; the exact mass of h = 0 fixes the estimate."""
    model = cd_trained("binomial", digits, epochs=5, seed=1)
    exact = model.exact_log_z().log_z
    ais = ais_log_z(model, n_betas=2000, chains=100, generator=torch.Generator().manual_seed(1))
    assert ais.log_z < exact - 10  # the documented failure
    assert model.log_z_lower_bound(ais.states) <= exact + 1e-6
    model.config = model.config.model_copy(update={"ais_betas": 2000})
    assert abs(model.log_z(torch.Generator().manual_seed(1)).log_z - exact) < 0.1


def exact_test_log_likelihood(model: RBM, digits) -> float:
    from genmodels.models.core.dequantize import dequantize

    v = dequantize(torch.from_numpy(digits.test.x), 17, torch.Generator().manual_seed(0))
    with torch.no_grad():
        return float((model._unnormalized_log_density(v) - model.exact_log_z().log_z).mean())


@pytest.mark.parametrize("method", ["cd", "pcd", "pt"])
def test_cd_and_pcd_lower_the_free_energy_gap_and_raise_the_likelihood(method: str, digits) -> None:
    x = torch.from_numpy(digits.train.x[:256])

    def gap(model: RBM) -> float:
        with torch.no_grad():
            (_, loss), = list(model.training_losses(x, None, torch.Generator().manual_seed(9)))
        return float(loss)

    before = cd_trained("binomial", digits, epochs=0, method=method)
    after = cd_trained("binomial", digits, epochs=4, method=method)
    assert gap(after) < 0.5 * gap(before)
    assert exact_test_log_likelihood(after, digits) > exact_test_log_likelihood(before, digits) + 20
    replicas = {"cd": 0, "pcd": 1, "pt": after.config.train_replicas}[method]
    assert after.chains.shape == (64 * replicas, 64)  # pt: every replica of every persistent chain is checkpointed


@pytest.mark.parametrize("visible", ["bernoulli", "binomial", "gaussian"])
@pytest.mark.parametrize("output", ["mean", "draw"])
def test_gibbs_samples_shape_range_and_reproducibility(visible: str, output: str) -> None:
    torch.manual_seed(0)
    model = build_model("rbm", {"visible": visible, "hidden": 8, "burn_in": 5, "thin": 2, "sample_chains": 4, "sample_output": output}, DIGITS)
    x = model.sample(10, torch.Generator().manual_seed(0))
    assert x.shape == (10, 1, 8, 8) and x.dtype == torch.float32
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    torch.testing.assert_close(x, model.sample(10, torch.Generator().manual_seed(0)))
    if output == "draw" and visible != "gaussian":
        grid = 1 if visible == "bernoulli" else 16
        torch.testing.assert_close(x * grid, torch.round(x * grid))  # values on the data's level grid


def test_points_samples_and_temperature() -> None:
    torch.manual_seed(0)
    model = build_model("rbm", {"burn_in": 3}, POINTS)
    assert model.visible == "gaussian"
    assert model.sample(7, torch.Generator().manual_seed(0), temperature=0.5).shape == (7, 2)
    with pytest.raises(ValueError, match="temperature must be positive"):
        model.sample(3, torch.Generator().manual_seed(0), temperature=0.0)


@pytest.mark.parametrize("visible", ["bernoulli", "binomial"])
def test_discrete_visibles_reject_continuous_data(visible: str) -> None:
    with pytest.raises(ValueError, match=f"rbm.visible={visible} needs discrete data"):
        build_model("rbm", {"visible": visible}, POINTS)


def test_log_z_is_cached_until_the_weights_change() -> None:
    torch.manual_seed(0)
    model = build_model("rbm", {"hidden": 6, "ais_betas": 50, "ais_chains": 10}, DIGITS)
    first = model.log_z(torch.Generator().manual_seed(0))
    assert model.log_z(torch.Generator().manual_seed(1)) is first
    extras = model.evaluation_extras()
    assert extras["log_z"] == first.log_z and extras["log_z_stderr"] == first.stderr
    assert extras["log_z_chains"] == 10 and 1.0 <= extras["log_z_ess"] <= 10.0
    assert extras["log_z_exact"] == pytest.approx(model.exact_log_z().log_z)
    with torch.no_grad():
        model.weight.add_(0.1)
    assert model.log_z(torch.Generator().manual_seed(0)) is not first


def test_samples_do_not_depend_on_the_training_chains(digits) -> None:
    """Chains start at the base model, so overwriting the PCD particles changes nothing."""
    model = cd_trained("binomial", digits, epochs=1)
    model.config = model.config.model_copy(update={"burn_in": 20})
    before = model.sample(50, torch.Generator().manual_seed(0))
    with torch.no_grad():
        model.chains.fill_(16.0)
    torch.testing.assert_close(model.sample(50, torch.Generator().manual_seed(0)), before)


def test_default_samples_are_independent_draws_at_the_data_levels() -> None:
    torch.manual_seed(0)
    model = build_model("rbm", {"hidden": 8, "burn_in": 3}, DIGITS)
    assert model.config.sample_init == "marginals" and model.config.sample_output == "draw"
    x = model.sample(300, torch.Generator().manual_seed(0)).flatten(1)
    torch.testing.assert_close(x * 16, torch.round(x * 16))
    assert len(torch.unique(x, dim=0)) == 300  # one chain per sample, none shared


def test_persistent_starts_are_gone() -> None:
    with pytest.raises(ValueError, match="sample_init"):
        build_model("rbm", {"sample_init": "persistent"}, DIGITS)


# -- AIS diagnostics and the RAISE/AIS sandwich ------------------------------------------------
def test_tail_schedule_is_increasing_and_follows_its_segments() -> None:
    betas = annealing_betas(14500, "tail")
    assert betas[0] == 0.0 and betas[-1] == 1.0 and bool((betas.diff() > 0).all())
    for end, share in TAIL_SEGMENTS:
        assert float((betas <= end).double().mean()) == pytest.approx(share, abs=1e-3)
    torch.testing.assert_close(annealing_betas(5, "linear"), torch.linspace(0, 1, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="unknown AIS schedule"):
        annealing_betas(5, "cosine")  # type: ignore[arg-type]


def test_effective_sample_size_of_importance_weights() -> None:
    assert effective_sample_size(torch.zeros(40)) == pytest.approx(40.0)
    assert effective_sample_size(torch.tensor([0.0, -50.0, -50.0])) == pytest.approx(1.0)
    w = torch.tensor([1.0, 2.0, 3.0, 6.0], dtype=torch.float64)
    assert effective_sample_size(w.log() + 7.0) == pytest.approx(float(w.sum() ** 2 / (w**2).sum()))


@torch.no_grad()
def exact_discrete_log_prob(model: RBM, x: torch.Tensor) -> torch.Tensor:
    """``log P(k)`` with the exact ``log Z`` (float64 enumeration of the hidden states)."""
    units, offset = model._discrete_units(x)
    return -model.free_energy(units).double() - model.exact_log_z().log_z + offset.double()


@pytest.mark.parametrize("visible", ["bernoulli", "binomial"])
def test_raise_and_ais_sandwich_the_exact_log_prob(visible: str, digits) -> None:
    """Mean over test digits: RAISE <= exact log P(k) <= AIS (both stochastic bounds), a gap of a few nats."""
    model = cd_trained(visible, digits)
    model.config = model.config.model_copy(update={"ais_betas": 2000, "raise_betas": 1000, "raise_chains": 2})
    x = torch.from_numpy(digits.test.x[:60])
    exact = float(exact_discrete_log_prob(model, x).mean())
    lower, upper = model.discrete_log_prob_bounds(x, torch.Generator().manual_seed(0))
    assert lower.shape == upper.shape == (60,) and lower.dtype == torch.float64
    assert float(lower.mean()) <= exact <= float(upper.mean()) + 2 * model.log_z(torch.Generator()).stderr
    assert float((upper - lower).mean()) < 3.0
    reported = model.discrete_log_prob(x, torch.Generator()).double()  # the reported figure is AIS's (in float32)
    torch.testing.assert_close(reported, upper, rtol=0, atol=1e-3)


def test_raise_is_a_lower_bound_that_tightens_with_the_path(digits) -> None:
    model = cd_trained("binomial", digits)
    units = model.units_from_data(torch.from_numpy(digits.test.x[:40]))
    with torch.no_grad():
        exact = float((-model.free_energy(units).double() - model.exact_log_z().log_z).mean())
    short, long = (float(raise_log_prob(model, units, k, 1, torch.Generator().manual_seed(0)).mean()) for k in (20, 1000))
    assert short < long <= exact and exact - long < 0.25 * (exact - short)


def test_gaussian_sandwich_on_points_and_none_on_images() -> None:
    model = tiny("gaussian", (2,), None, scale=0.5)
    model.config = model.config.model_copy(update={"ais_betas": 500, "raise_betas": 500, "raise_chains": 4})
    x = torch.randn(200, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    exact = float((-model.free_energy(x) - model.exact_log_z().log_z).mean())
    lower, upper = model.discrete_log_prob_bounds(x, torch.Generator().manual_seed(0))
    assert float(lower.mean()) <= exact + 0.05 and exact <= float(upper.mean()) + 0.05  # within the estimators' noise
    images = build_model("rbm", {"visible": "gaussian", "hidden": 4}, DIGITS)
    assert images.discrete_log_prob_bounds(torch.zeros(2, 1, 8, 8), torch.Generator()) is None


@pytest.mark.parametrize(("visible", "constant"), [("bernoulli", True), ("binomial", True), ("gaussian", False)])
def test_discrete_visibles_are_cell_constant(visible: str, constant: bool) -> None:
    model = build_model("rbm", {"visible": visible, "hidden": 4}, DIGITS)
    assert model.cell_constant is constant and model.discrete_likelihood_kind() == "estimate"


def test_sandwich_is_deterministic_for_a_seed(digits) -> None:
    model = cd_trained("binomial", digits, epochs=1)
    model.config = model.config.model_copy(update={"ais_betas": 200, "raise_betas": 100})
    x = torch.from_numpy(digits.test.x[:10])
    first = model.discrete_log_prob_bounds(x, torch.Generator().manual_seed(5))
    model._log_z_cache = None
    second = model.discrete_log_prob_bounds(x, torch.Generator().manual_seed(5))
    for a, b in zip(first, second, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


# -- the visible-unit strategies (genmodels.models.rbm.visible) in isolation ---------------------
def test_every_configurable_visible_type_has_a_strategy() -> None:
    assert set(VISIBLE_UNITS) | {"auto"} == set(get_args(RBMConfig.model_fields["visible"].annotation))
    assert isinstance(build_model("rbm", {"hidden": 4}, DIGITS).units, BinomialUnits)
    assert isinstance(build_model("rbm", {"hidden": 4}, POINTS).units, GaussianUnits)


@pytest.mark.parametrize(("units", "values"), [(BernoulliUnits.for_data(17, 0.01), {0.0, 1.0}), (BinomialUnits.for_data(5, 0.01), {0.0, 1.0, 2.0, 3.0, 4.0})])
def test_discrete_conditional_mean_is_a_probability_and_draws_are_counts(units: VisibleUnits, values: set[float]) -> None:
    a = torch.linspace(-60, 60, 101).unsqueeze(0)
    for beta in (1.0, 0.3, 0.0):
        mean = units.mean(a, beta)
        assert 0.0 <= float(mean.min()) and float(mean.max()) <= 1.0
    v = units.draw(units.mean(a.expand(50, -1), 1.0), torch.zeros(101), 1.0, torch.Generator().manual_seed(0))
    assert set(v.unique().tolist()) <= values
    data = units.units_to_data(v)
    assert 0.0 <= float(data.min()) and float(data.max()) <= 1.0


@pytest.mark.parametrize("n", [64, 300_000])  # counting uniforms, then torch.binomial past 2^22 trials
def test_binomial_draws_have_the_binomial_moments(n: int) -> None:
    units = BinomialUnits.for_data(17, 0.01)
    p = torch.full((n,), 0.3, dtype=torch.float64)
    reps = max(1, 200_000 // n)
    v = torch.stack([units.draw_counts(p, torch.Generator().manual_seed(i)) for i in range(reps)]).flatten()
    assert float(v.mean()) == pytest.approx(16 * 0.3, abs=4 * math.sqrt(16 * 0.3 * 0.7 / len(v)))
    assert float(v.var()) == pytest.approx(16 * 0.3 * 0.7, rel=0.02)


def test_gaussian_units_conditional_mean_draw_and_std_floor() -> None:
    units = GaussianUnits.for_data(None, min_std=0.2)
    log_std = torch.tensor([math.log(0.5), math.log(0.01)], dtype=torch.float64)
    torch.testing.assert_close(units.std(log_std), torch.tensor([0.5, 0.2], dtype=torch.float64))
    a = torch.tensor([[1.0, -2.0]], dtype=torch.float64)
    assert torch.equal(units.mean(a, 0.25), a)  # tempering scales the variance, not the mean
    v = units.draw(a.expand(200_000, -1), log_std, 0.25, torch.Generator().manual_seed(0))
    torch.testing.assert_close(v.mean(0), a[0], atol=0.01, rtol=0)
    torch.testing.assert_close(v.std(0), units.std(log_std) / 0.5, rtol=0.01, atol=0)
    assert torch.equal(units.units_from_data(a), a) and torch.equal(units.mean_to_data(a), a)  # continuous data: no quantization


@pytest.mark.parametrize("units", [BernoulliUnits.for_data(3, 0.01), BinomialUnits.for_data(4, 0.01)])
def test_discrete_base_log_z_normalizes_the_base_model(units: BinomialUnits) -> None:
    """``log Z_0 = log sum_v exp(loc.v + sum_i log C(N, v_i))`` over every unit vector."""
    g = torch.Generator().manual_seed(0)
    vbias = torch.zeros(3, dtype=torch.float64)
    total = torch.randint(0, 10 * units.trials, (3,), generator=g).double()
    loc, scale = units.base(10.0, total, total, vbias, vbias)
    v = all_states(3, units.trials + 1)
    base, _ = units.path_terms(v, loc, scale, vbias, vbias)
    assert float(units.base_log_z(loc, scale)) == pytest.approx(float(torch.logsumexp(base + units.log_base_measure(v), 0)), abs=1e-12)


def test_gaussian_base_log_z_normalizes_the_base_model() -> None:
    units = GaussianUnits.for_data(None, 0.01)
    x = torch.randn(50, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * torch.tensor([0.5, 2.0], dtype=torch.float64)
    loc, scale = units.base(50.0, x.sum(0), (x**2).sum(0), torch.zeros(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64))
    torch.testing.assert_close(loc, x.mean(0))
    grid = torch.linspace(-15, 15, 1501, dtype=torch.float64)
    v = torch.cartesian_prod(grid, grid)
    base, _ = units.path_terms(v, loc, scale, loc, torch.zeros(2, dtype=torch.float64))
    quad = torch.logsumexp(base, 0) + 2 * math.log(float(grid[1] - grid[0]))
    assert float(units.base_log_z(loc, scale)) == pytest.approx(float(quad), abs=1e-6)


def test_bernoulli_density_spreads_each_bit_over_its_levels() -> None:
    """With K = 5 levels, k in {0, 1} binarize to 0 and k in {2, 3, 4} to 1 (k / 4 >= 0.5)."""
    units = BernoulliUnits.for_data(5, 0.01)
    assert units.level_counts() == (2, 3)
    v = (torch.arange(5, dtype=torch.float64) + 0.5).unsqueeze(1) / 5
    bits, offset = units.units_from_density(v)
    assert bits.flatten().tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]
    torch.testing.assert_close(offset, torch.tensor([math.log(5 / 2)] * 2 + [math.log(5 / 3)] * 3, dtype=torch.float64))


@pytest.mark.parametrize(("visible", "learned"), [("bernoulli", False), ("binomial", False), ("gaussian", True)])
def test_state_dict_keys_do_not_depend_on_the_visible_type(visible: str, learned: bool) -> None:
    """Checkpoints keep the same keys; only gaussian units make ``log_std`` a parameter."""
    model = build_model("rbm", {"visible": visible, "hidden": 4}, DIGITS)
    assert sorted(model.state_dict()) == ["chains", "chains_ready", "hbias", "log_std", "stat_count", "stat_sq", "stat_sum", "vbias", "weight"]
    assert ("log_std" in dict(model.named_parameters())) == learned
