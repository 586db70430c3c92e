"""Contract tests run over every registered family, on image and on point data."""

from __future__ import annotations

import math

import pytest
import torch

from genmodels.data.base import DatasetInfo
from genmodels.models import MODELS, build_model
from genmodels.models.core.dequantize import bits_per_dim, dequantize
from genmodels.training import checkpoint as ckpt

IMAGE = DatasetInfo("digits", "image", (1, 8, 8), 17, 10, (0.0, 1.0))
POINTS = DatasetInfo("toy2d", "points", (2,), None, 8, (-2.5, 2.5))


def batch(info: DatasetInfo, n: int = 64) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    if info.kind == "image":
        return torch.round(torch.rand((n, *info.shape), generator=g) * (info.levels - 1)) / (info.levels - 1)
    return torch.randn((n, *info.shape), generator=g)


def ready(family: str, info: DatasetInfo) -> torch.nn.Module:
    """A model of ``family`` with default config; direct-fit families are fitted on a batch."""
    torch.manual_seed(0)
    model = build_model(family, {}, info)
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


@pytest.mark.parametrize(("family", "info"), CASES, ids=IDS)
def test_decode_matches_latent_dim(family: str, info: DatasetInfo) -> None:
    model = ready(family, info)
    if model.latent_dim is None:
        pytest.skip(f"{family} has no latent decoder")
    with torch.no_grad():
        x = model.decode(torch.zeros(3, model.latent_dim))
    assert x.shape == (3, *info.shape)
