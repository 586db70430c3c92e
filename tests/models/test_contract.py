"""Contract tests run over every registered family: built directly on image and point data,
and trained for real by the training loop (resume, anomaly score, temperature, latents)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from genmodels.data.base import DatasetInfo
from genmodels.metrics.diagnostics import auroc
from genmodels.models import MODELS, build_model, model_class
from genmodels.models.core.dequantize import bits_per_dim, dequantize
from genmodels.training import checkpoint as ckpt
from genmodels.training.local import LocalContext, train_local
from genmodels.training.loop import TrainJob, train_worker

IMAGE = DatasetInfo("digits", "image", (1, 8, 8), 17, 10, (0.0, 1.0))
POINTS = DatasetInfo("toy2d", "points", (2,), None, 8, (-2.5, 2.5))


def batch(info: DatasetInfo, n: int = 64) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    if info.kind == "image":
        return torch.round(torch.rand((n, *info.shape), generator=g) * (info.levels - 1)) / (info.levels - 1)
    return torch.randn((n, *info.shape), generator=g)


CHEAP = {"rbm": {"burn_in": 200, "ais_betas": 500, "raise_betas": 300}}  # short chains: the contract, not the defaults' accuracy


def ready(family: str, info: DatasetInfo) -> torch.nn.Module:
    """A model of ``family`` with default config; direct-fit families are fitted on a batch."""
    torch.manual_seed(0)
    model = build_model(family, CHEAP.get(family, {}), info)
    if model.direct_fit:
        model.fit_direct(batch(info, 256), None, torch.Generator().manual_seed(0))  # data space, like the trainer
    return model.eval()


CASES = [(family, info) for family in MODELS.names() for info in (IMAGE, POINTS)]
IDS = [f"{f}-{i.kind}" for f, i in CASES]


@pytest.mark.parametrize(("family", "info"), CASES, ids=IDS)
def test_sample_shape_dtype_range(family: str, info: DatasetInfo) -> None:
    model = ready(family, info)
    with torch.no_grad():
        x = model.sample(10, torch.Generator().manual_seed(1))
    assert x.shape == (10, *info.shape) and x.dtype == torch.float32
    assert torch.isfinite(x).all()
    if info.kind == "image":
        assert x.min() >= 0.0 and x.max() <= 1.0


@pytest.mark.parametrize(("family", "info"), CASES, ids=IDS)
def test_save_load_round_trip_reproduces_samples(family: str, info: DatasetInfo, tmp_path) -> None:
    model = ready(family, info)
    ckpt.write_model(tmp_path, model, family)
    state = torch.load(tmp_path / ckpt.MODEL_FILE, weights_only=True)  # tensors only, no pickled modules
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    loaded = ckpt.load_model(tmp_path)
    with torch.no_grad():
        a = model.sample(8, torch.Generator().manual_seed(3))
        b = loaded.sample(8, torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize(("family", "info"), CASES, ids=IDS)
def test_optimisation_steps_lower_the_loss(family: str, info: DatasetInfo) -> None:
    torch.manual_seed(0)
    model = build_model(family, {}, info).train()
    if model.direct_fit:
        pytest.skip(f"{family} is fitted directly, not by gradient steps")
    opts = {k: torch.optim.Adam(list(p), lr=1e-3) for k, p in model.optimizer_groups().items()}
    x = batch(info)

    def losses() -> dict[str, float]:
        with torch.no_grad():
            return {g: float(l) for g, l in model.training_losses(x, None, torch.Generator().manual_seed(5))}

    before = losses()
    for _ in range(5):
        for group, loss in model.training_losses(x, None, torch.Generator().manual_seed(5)):
            opts[group].zero_grad()
            loss.backward()
            opts[group].step()
    after = losses()
    first = next(iter(before))
    assert after[first] < before[first], (before, after)


@pytest.mark.parametrize(("family", "info"), CASES, ids=IDS)
def test_likelihood_is_finite_and_consistent(family: str, info: DatasetInfo) -> None:
    model = ready(family, info)
    if model.likelihood_kind is None:
        pytest.skip(f"{family} has no likelihood")
    v = dequantize(batch(info, 16), info.levels, torch.Generator().manual_seed(0))
    ll = model.log_likelihood(v, torch.Generator().manual_seed(0))
    assert ll.shape == (16,) and torch.isfinite(ll).all()
    bpd = bits_per_dim(ll, math.prod(info.shape), info.levels)
    expected = (-ll.double() + (math.prod(info.shape) * math.log(info.levels) if info.levels else 0)) / (math.prod(info.shape) * math.log(2))
    torch.testing.assert_close(bpd.double(), expected)


TINY = DatasetInfo("tiny", "image", (1, 2, 2), 3, None, (0.0, 1.0))  # 3^4 = 81 images: enumerable


def tiny_model(family: str) -> tuple[torch.nn.Module, torch.Tensor]:
    """A default ``family`` model on the 81-image space (direct fits on a seeded draw of it), and the images."""
    torch.manual_seed(0)
    model = build_model(family, CHEAP.get(family, {}), TINY)
    every = torch.tensor(list(itertools.product(range(3), repeat=4)), dtype=torch.float32).view(-1, *TINY.shape) / 2
    if model.direct_fit:
        model.fit_direct(every[torch.randint(0, len(every), (300,), generator=torch.Generator().manual_seed(0))], None, torch.Generator().manual_seed(0))
    return model.eval(), every


@pytest.mark.parametrize("family", MODELS.names())
def test_discrete_probabilities_of_all_images_sum_to_one(family: str) -> None:
    """``sum_k P(k) = 1`` over the K^D images: exactly for exact kinds, in expectation (within
    the estimator's noise and Jensen gap, which only lowers it) for bounds and estimates."""
    model, every = tiny_model(family)
    kind = model.discrete_likelihood_kind()
    if kind is None:
        pytest.skip(f"{family} has no likelihood")
    lp = model.discrete_log_prob(every, torch.Generator().manual_seed(1), 64)
    assert lp.shape == (len(every),) and torch.isfinite(lp).all()
    total = float(lp.double().exp().sum())
    if kind == "exact":
        assert total == pytest.approx(1.0, abs=1e-6)
    else:
        assert 0.97 < total < 1.01, total


@pytest.mark.parametrize("family", MODELS.names())
def test_samples_follow_the_distribution_the_likelihood_describes(family: str) -> None:
    """The sampler draws from the model that the discrete NLL scores: the empirical frequencies
    of 20 000 draws over the 81 images match ``P(k)`` (total variation within sampling noise)."""
    model, every = tiny_model(family)
    if model.discrete_likelihood_kind() is None:
        pytest.skip(f"{family} has no likelihood")
    p = model.discrete_log_prob(every, torch.Generator().manual_seed(1), 256).double().exp()
    n = 20_000
    with torch.no_grad():
        x = model.sample(n, torch.Generator().manual_seed(2))
    k = torch.round(x.view(n, -1) * 2).long()
    assert torch.allclose(x.view(n, -1) * 2, k.float(), atol=1e-6), "samples are not at the data's levels"
    index = (k * torch.tensor([27, 9, 3, 1])).sum(1)  # row of `every` (itertools.product order)
    freq = torch.bincount(index, minlength=len(every)).double() / n
    tv = 0.5 * float((freq - p / p.sum()).abs().sum())
    assert tv < 0.04, tv


@pytest.mark.parametrize(("family", "info"), CASES, ids=IDS)
def test_decode_matches_latent_dim(family: str, info: DatasetInfo) -> None:
    model = ready(family, info)
    if model.latent_dim is None:
        pytest.skip(f"{family} has no latent decoder")
    with torch.no_grad():
        x = model.decode(torch.zeros(3, model.latent_dim))
    assert x.shape == (3, *info.shape)


# ------------------------------------------------------------------ the real training loop
#
# Every registered family goes through ``train_local`` (the same loop as a Ray worker) on
# 128 real digits for two epochs; the checkpoints it leaves are then loaded and checked.
# Families listed below train with smaller settings than their defaults (for speed on a
# CPU); a family that is not listed trains with its defaults, so a new family is covered
# the moment it registers.

FAMILIES = MODELS.names()
DIGITS = DatasetInfo("digits", "image", (1, 8, 8), 17, 10, (0.0, 1.0))
FIT = {"epochs": 2, "batch_size": 32}
SMALL_MODEL: dict[str, dict] = {
    "flow": {"scales": 1, "checker_layers": 1, "channel_layers": 0, "final_layers": 2, "conv_width": 8,
             "front_net": "mlp", "front_hidden": [32]},
    "gan": {"hidden": [64, 64]},
    "gmm": {"n_components": 4, "n_init": 1, "max_iter": 50},
    "kde": {"n_bandwidths": 6},
    "rbm": {"hidden": 32, "pcd_chains": 32, "burn_in": 5, "thin": 2, "ais_chains": 8, "ais_betas": 50},
    "vae": {"hidden": [64], "latent_dim": 4, "prior_components": 10, "iw_samples": 8},
}  # fmt: skip
SMALL_FIT: dict[str, dict] = {"vae": {"lr": 1e-2, "batch_size": 16}}  # enough steps to tell digits from noise
#: Families whose anomaly score does not yet rank digits below noise after two short epochs
#: (only its shape and finiteness are checked), with the reason.
ANOMALY_NOT_YET_RANKED = {
    # The binomial visible units' base measure prod_d C(16, k_d) favours mid-grey levels, and
    # 8 CD steps do not outweigh it: uniform level noise gets the lower free energy (AUROC ~0.1).
    "rbm": "a binomial RBM after a few CD steps still prefers mid-grey noise (base measure)",
}
TRAIN_SEED = 3


def train_job(family: str) -> TrainJob:
    return TrainJob.create(family, family, SMALL_MODEL.get(family, {}), {**FIT, **SMALL_FIT.get(family, {})}, DIGITS, TRAIN_SEED)


def quiet(run_dir: Path) -> LocalContext:
    return LocalContext(run_dir, torch.device("cpu"), log=lambda s: None)


class Crash(Exception):
    pass


class CrashingContext(LocalContext):
    """Checkpoints like the local backend, then dies once ``crash_after`` epochs are saved."""

    def __init__(self, run_dir: Path, crash_after: int) -> None:
        super().__init__(run_dir, torch.device("cpu"), log=lambda s: None)
        self.crash_after = crash_after

    def save(self, metrics, write, final) -> None:
        super().save(metrics, write, final)
        if int(metrics["epoch"]) + 1 >= self.crash_after:
            raise Crash


@pytest.fixture(scope="module")
def digit_data(digits) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """128 training digits with labels, and 64 held-out test digits."""
    assert digits.info.shape == DIGITS.shape and digits.info.levels == DIGITS.levels
    return digits.train.x[:128], digits.train.y[:128], digits.test.x[:64]


@pytest.fixture(scope="module")
def trained(digit_data, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``trained(family)``: the final checkpoint of an uninterrupted two-epoch run (one per family)."""
    x, y, _ = digit_data
    runs: dict[str, Path] = {}

    def get(family: str) -> Path:
        if family not in runs:
            run_dir = tmp_path_factory.mktemp(f"train-{family}")
            ctx = quiet(run_dir)
            shared = x.copy()  # read-only, as Ray's object store hands it to each worker
            shared.setflags(write=False)
            train_worker(train_job(family), shared, y, ctx)
            np.testing.assert_array_equal(shared, x)  # the loop trains on it without a copy and never writes it
            runs[family] = ctx.checkpoints()[-1]
        return runs[family]

    return get


def load_weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    return torch.load(checkpoint / ckpt.MODEL_FILE, weights_only=True)


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = load_weights(a), load_weights(b)
    assert sorted(wa) == sorted(wb)
    for k, v in wa.items():
        torch.testing.assert_close(wb[k], v, rtol=0, atol=0, msg=lambda m, k=k: f"{k}: {m}")


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def assert_valid_images(x: torch.Tensor, n: int) -> None:
    assert x.shape == (n, *DIGITS.shape) and x.dtype == torch.float32
    assert torch.isfinite(x).all()
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0


@pytest.mark.parametrize("family", FAMILIES)
def test_two_epochs_of_the_training_loop_give_a_loadable_sampler(family: str, trained) -> None:
    final = trained(family)
    cls = model_class(family)
    history = ckpt.read_trainer_state(final)["history"]
    if cls.direct_fit:  # one "epoch": the family's own solver, its statistics logged under fit/
        assert final.name == "checkpoint_000000" and [r["epoch"] for r in history] == [0.0]
        stats = {k: v for k, v in history[0].items() if k.startswith("fit/")}
        assert stats and not any(k.startswith("loss/") for k in history[0])
        assert all(math.isfinite(v) for v in stats.values()), stats
    else:
        assert final.name == "checkpoint_000001" and [r["epoch"] for r in history] == [0.0, 1.0]
        groups = set(build_model(family, SMALL_MODEL.get(family, {}), DIGITS).optimizer_groups())
        for row in history:
            losses = {k: v for k, v in row.items() if k.startswith("loss/")}
            assert set(losses) == {f"loss/{g}" for g in groups}
            assert all(math.isfinite(v) for v in losses.values()), row
        assert history[1]["train_seconds"] >= history[0]["train_seconds"]
    assert history[0]["train_seconds"] > 0
    model = ckpt.load_model(final)
    assert type(model) is cls and not model.training
    with torch.no_grad():
        a = model.sample(8, gen(11))
        b = model.sample(8, gen(11))
    assert_valid_images(a, 8)
    torch.testing.assert_close(a, b, rtol=0, atol=0)  # sampling is a function of the generator


@pytest.mark.parametrize("family", FAMILIES)
def test_an_interrupted_run_resumes_to_the_same_weights(family: str, trained, digit_data, tmp_path) -> None:
    x, y, _ = digit_data
    job = train_job(family)
    straight = trained(family)
    if model_class(family).direct_fit:
        # fitted once: a second run in the same folder finds the checkpoint and does not refit
        first = train_local(job, x, y, tmp_path)
        stamp = (first / ckpt.MODEL_FILE).stat().st_mtime_ns
        ctx = quiet(tmp_path)
        history = train_worker(job, x, y, ctx)
        assert ctx.checkpoints() == [first] and (first / ckpt.MODEL_FILE).stat().st_mtime_ns == stamp
        assert len(history) == 1
        assert_same_weights(first, straight)  # and the fit is deterministic across folders
        return
    with pytest.raises(Crash):
        train_worker(job, x, y, CrashingContext(tmp_path, crash_after=1))
    assert [p.name for p in quiet(tmp_path).checkpoints()] == ["checkpoint_000000"]
    resumed = train_local(job, x, y, tmp_path)
    assert resumed.name == "checkpoint_000001"
    assert [r["epoch"] for r in ckpt.read_trainer_state(resumed)["history"]] == [0.0, 1.0]
    assert_same_weights(resumed, straight)


@pytest.mark.parametrize("family", FAMILIES)
def test_anomaly_score_ranks_digits_below_noise(family: str, trained, digit_data) -> None:
    _, _, test_x = digit_data
    model = ckpt.load_model(trained(family))
    levels = DIGITS.levels
    digits_v = dequantize(torch.from_numpy(test_x), levels, gen(1))
    noise = torch.round(torch.rand(len(test_x), *DIGITS.shape, generator=gen(2)) * (levels - 1)) / (levels - 1)
    noise_v = dequantize(noise, levels, gen(3))
    with torch.no_grad():
        s_in = model.anomaly_score(digits_v, gen(4))
        s_out = model.anomaly_score(noise_v, gen(4))
    for s in (s_in, s_out):
        assert s.shape == (len(test_x),) and s.is_floating_point() and torch.isfinite(s).all()
    if family in ANOMALY_NOT_YET_RANKED:
        return  # see ANOMALY_NOT_YET_RANKED: only shape and finiteness hold this early
    assert float(s_in.mean()) < float(s_out.mean()), (float(s_in.mean()), float(s_out.mean()))
    assert auroc(s_in.double().numpy(), s_out.double().numpy()) > 0.95


@pytest.mark.parametrize("family", FAMILIES)
def test_temperature_gives_valid_samples_and_matters(family: str, trained) -> None:
    model = ckpt.load_model(trained(family))
    with torch.no_grad():
        cold = model.sample(16, gen(5), temperature=0.5)
        warm = model.sample(16, gen(5), temperature=1.0)
    assert_valid_images(cold, 16)
    assert_valid_images(warm, 16)
    assert not torch.equal(cold, warm), "the temperature has no effect on the samples"


@pytest.mark.parametrize("family", FAMILIES)
def test_latent_draws_scale_with_temperature(family: str, trained) -> None:
    model = ckpt.load_model(trained(family))
    if model.latent_dim is None:
        with pytest.raises(NotImplementedError):
            model.sample_latent(2, gen(0))
        return
    n = 4000
    with torch.no_grad():
        z = {t: model.sample_latent(n, gen(6), temperature=t) for t in (0.25, 0.5, 1.0)}
    assert z[1.0].shape == (n, model.latent_dim)
    # Same generator: the same draws, their deviation from the location scaled by T
    # (N(0, T^2 I): T eps; a mixture: m_k + T s_k eps with the same k and eps).
    torch.testing.assert_close(z[1.0] - z[0.5], 2 * (z[0.5] - z[0.25]), rtol=1e-4, atol=1e-5)
    if model.gaussian_latent:
        torch.testing.assert_close(z[0.5], 0.5 * z[1.0])
        with torch.no_grad():
            other = model.sample_latent(n, gen(7), temperature=0.5)
        assert abs(float(z[1.0].std()) - 1.0) < 0.05 and abs(float(z[1.0].mean())) < 0.05
        assert abs(float(other.std()) / float(z[1.0].std()) - 0.5) < 0.03


@pytest.mark.parametrize("temperature", [0.5, 1.0])
@pytest.mark.parametrize("family", FAMILIES)
def test_samples_decode_the_latent_draws(family: str, temperature: float, trained) -> None:
    """A latent family's sampler is ``decode_sample(sample_latent(...))`` with one generator, and
    a draw lies in the level cell of the decoded point (flows) or is the decoded point (GAN)."""
    model = ckpt.load_model(trained(family))
    if model.latent_dim is None:
        pytest.skip(f"{family} has no latent decoder")
    with torch.no_grad():
        s = model.sample(6, gen(8), temperature=temperature)
        g = gen(8)
        z = model.sample_latent(6, g, temperature=temperature)
        torch.testing.assert_close(model.decode_sample(z, g), s)
        if not model.likelihood_kind:
            torch.testing.assert_close(model.decode(z), s)
    assert_valid_images(s, 6)
