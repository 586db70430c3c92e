"""Normalizing flow: every layer passes the shared checks; the model's density is exact."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import Tensor

from genmodels.data.base import DatasetInfo
from genmodels.models import build_model
from genmodels.models.core.dequantize import dequantize
from genmodels.models.flow.model import (
    FlowConfig,
    alternating_mask,
    build_flow,
    channel_mask,
    checkerboard_mask,
    conv_net,
    flat_mlp,
    lattice_groups,
    quantized_front,
    split_group,
)
from genmodels.models.flow.front import MADE, QuantizedAutoregressive, QuantizedCoupling
from genmodels.models.flow.layers import (
    ActNorm,
    AffineCoupling,
    FactorOut,
    FlowSequence,
    InvertibleLinear,
    Inverted,
    LogitTransform,
    ProbitTransform,
    SplineCoupling,
    Squeeze,
    rational_quadratic_spline,
)
from genmodels.training import checkpoint as ckpt
from tests.models.flow_layer_base import FlowLayerChecks

IMAGE = DatasetInfo("digits", "image", (1, 8, 8), 17, 10, (0.0, 1.0))
POINTS = DatasetInfo("toy2d", "points", (2,), None, 8, (-2.5, 2.5))
TINY = DatasetInfo("tiny", "image", (1, 4, 4), 5, None, (0.0, 1.0))


def unit(shape: tuple[int, ...]):  # noqa: ANN201
    """Inputs strictly inside (0, 1)."""
    return lambda n, g: 0.02 + 0.96 * torch.rand((n, *shape), generator=g, dtype=torch.float64)


def normal(shape: tuple[int, ...], scale: float = 1.5):  # noqa: ANN201
    return lambda n, g: scale * torch.randn((n, *shape), generator=g, dtype=torch.float64)


# ------------------------------------------------------------------ layers


class TestLogit(FlowLayerChecks):
    make_layer = staticmethod(lambda: LogitTransform(0.05))
    make_input = staticmethod(unit((3, 2)))


class TestProbit(FlowLayerChecks):
    make_layer = staticmethod(lambda: ProbitTransform(1e-3))
    make_input = staticmethod(unit((6,)))


class TestActNorm(FlowLayerChecks):
    make_layer = staticmethod(lambda: ActNorm((3, 2, 2)))
    make_input = staticmethod(normal((3, 2, 2)))


class TestActNormPerPosition(FlowLayerChecks):
    make_layer = staticmethod(lambda: ActNorm((2, 2, 3), per_position=True))
    make_input = staticmethod(normal((2, 2, 3)))


class TestInvertibleLinearImage(FlowLayerChecks):
    make_layer = staticmethod(lambda: InvertibleLinear(3))
    make_input = staticmethod(normal((3, 2, 2)))


class TestInvertibleLinearPoints(FlowLayerChecks):
    make_layer = staticmethod(lambda: InvertibleLinear(4))
    make_input = staticmethod(normal((4,)))


class TestSqueeze(FlowLayerChecks):
    make_layer = staticmethod(lambda: Squeeze())
    make_input = staticmethod(normal((2, 4, 2)))


class TestUnsqueeze(FlowLayerChecks):
    make_layer = staticmethod(lambda: Inverted(Squeeze()))
    make_input = staticmethod(normal((8, 1, 2)))


class TestFactorOut(FlowLayerChecks):
    make_layer = staticmethod(lambda: FactorOut(2, FlowSequence([ActNorm((2, 2, 2)), AffineCoupling(channel_mask(2, 0), conv_net(2, 4, 4))])))
    make_input = staticmethod(normal((4, 2, 2)))


class TestAffineCheckerboard(FlowLayerChecks):
    make_layer = staticmethod(lambda: AffineCoupling(checkerboard_mask(4, 4, 1), conv_net(1, 8, 2)))
    make_input = staticmethod(normal((1, 4, 4)))


class TestAffineChannel(FlowLayerChecks):
    make_layer = staticmethod(lambda: AffineCoupling(channel_mask(4, 1), conv_net(4, 8, 8)))
    make_input = staticmethod(normal((4, 2, 2)))


class TestAffinePoints(FlowLayerChecks):
    make_layer = staticmethod(lambda: AffineCoupling(alternating_mask(3, 0), flat_mlp((3,), [16], 2)))
    make_input = staticmethod(normal((3,)))


class TestSplinePoints(FlowLayerChecks):
    make_layer = staticmethod(lambda: SplineCoupling(alternating_mask(2, 1), flat_mlp((2,), [16], 3 * 6 - 1), bins=6, bound=2.0))
    make_input = staticmethod(normal((2,), scale=1.5))  # some inputs fall outside [-2, 2]: the identity tails


class TestSplineImage(FlowLayerChecks):
    make_layer = staticmethod(lambda: SplineCoupling(checkerboard_mask(2, 2, 0), conv_net(2, 4, 2 * (3 * 4 - 1)), bins=4, bound=3.0))
    make_input = staticmethod(normal((2, 2, 2)))


class TestQuantizedCoupling(FlowLayerChecks):
    make_layer = staticmethod(lambda: QuantizedCoupling(checkerboard_mask(2, 2, 0), checkerboard_mask(2, 2, 1), flat_mlp((1, 2, 2), [8], 5), 5))
    make_input = staticmethod(unit((1, 2, 2)))

    def clip_to_codomain(self, y: Tensor) -> Tensor:
        return y.clamp(1e-3, 1 - 1e-3)


class TestQuantizedAutoregressive(FlowLayerChecks):
    make_layer = staticmethod(lambda: QuantizedAutoregressive((2, 2, 2), torch.randperm(8, generator=torch.Generator().manual_seed(0)), 5, [12, 12]))
    make_input = staticmethod(unit((2, 2, 2)))

    def clip_to_codomain(self, y: Tensor) -> Tensor:
        return y.clamp(1e-3, 1 - 1e-3)


def test_made_outputs_depend_only_on_earlier_inputs() -> None:
    """d out_d / d in_j is zero unless rank(j) < rank(d) (autoregressive property)."""
    rank = torch.randperm(6, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    made = MADE(rank, [10, 10], 3).double()
    with torch.no_grad():
        for p in made.parameters():
            p.add_(torch.randn_like(p))
    x = torch.rand(1, 6, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: made(v.view(1, 6)).flatten(), x.flatten()).view(6, 3, 6)
    allowed = (rank[None, :] < rank[:, None]).double()  # [out element, in element]
    connected = (jac.abs().sum(1) > 0).double()
    assert torch.equal(connected * (1 - allowed), torch.zeros(6, 6))
    assert connected.sum() == allowed.sum()  # every allowed path exists


def test_made_front_is_an_exact_categorical_model() -> None:
    """The autoregressive front end's cell probabilities sum to one over all K^D cells."""
    levels, shape = 3, (1, 2, 2)
    torch.manual_seed(0)
    (front,) = quantized_front(shape, levels, FlowConfig(front_net="made", front_hidden=[8]))
    front = front.double().eval()
    with torch.no_grad():
        for p in front.parameters():
            p.add_(0.5 * torch.randn_like(p))
        cells = torch.tensor(list(itertools.product(range(levels), repeat=4)), dtype=torch.float64).view(-1, *shape)
        _, log_det = front((cells + 0.5) / levels)
        _, log_det_corner = front((cells + 0.01) / levels)
    torch.testing.assert_close(log_det_corner, log_det)
    torch.testing.assert_close(torch.exp(log_det - 4 * math.log(levels)).sum(), torch.tensor(1.0, dtype=torch.float64))
    assert front.rank.tolist() == [0, 2, 3, 1]  # coarse to fine: (0,0), then (1,1), then the odd pixels in raster order


class TestImageFlow(FlowLayerChecks):
    """The whole image flow (front end, probit, multi-scale RealNVP) is itself a layer."""

    make_layer = staticmethod(lambda: build_flow(TINY, FlowConfig(conv_width=4, front_hidden=[8], checker_layers=2, channel_layers=2, final_layers=2)))
    make_input = staticmethod(unit((1, 4, 4)))
    perturb = 0.05


class TestImageFlowWithoutFront(FlowLayerChecks):
    make_layer = staticmethod(lambda: build_flow(TINY, FlowConfig(conv_width=4, front_max_levels=0, inv_conv=True, image_coupling="spline", spline_bins=4)))
    make_input = staticmethod(unit((1, 4, 4)))
    perturb = 0.05


class TestPointFlow(FlowLayerChecks):
    make_layer = staticmethod(lambda: build_flow(POINTS, FlowConfig(mlp_hidden=[16], inv_conv=True)))
    make_input = staticmethod(normal((2,)))


class TestAffinePointFlow(FlowLayerChecks):
    make_layer = staticmethod(lambda: build_flow(POINTS, FlowConfig(mlp_hidden=[16], point_coupling="affine")))
    make_input = staticmethod(normal((2,)))


# ------------------------------------------------------------------ layer specifics


def test_spline_with_zero_parameters_is_the_identity() -> None:
    x = torch.linspace(-5, 5, 101)
    y, log_deriv = rational_quadratic_spline(x, torch.zeros(101, 8), torch.zeros(101, 8), torch.zeros(101, 7), bound=3.0)
    torch.testing.assert_close(y, x)
    torch.testing.assert_close(log_deriv, torch.zeros(101))


def test_actnorm_initialises_from_the_first_training_batch_only() -> None:
    layer = ActNorm((3,)).train()
    x = 5.0 + 2.0 * torch.randn(4096, 3, generator=torch.Generator().manual_seed(0))
    y, _ = layer(x)
    torch.testing.assert_close(y.mean(0), torch.zeros(3), atol=1e-4, rtol=0)
    torch.testing.assert_close(y.std(0), torch.ones(3), atol=1e-3, rtol=0)
    assert int(layer.initialized) == 1
    before = layer.loc.detach().clone()
    layer(x + 100.0)  # a second batch does not re-initialise
    torch.testing.assert_close(layer.loc.detach(), before)


def test_actnorm_does_not_initialise_in_eval_mode() -> None:
    layer = ActNorm((2,)).eval()
    layer(torch.randn(16, 2) + 3)
    assert int(layer.initialized) == 0 and float(layer.loc.detach().abs().sum()) == 0.0


def test_lattice_groups_partition_the_grid_coarse_to_fine() -> None:
    for h, w in [(8, 8), (7, 5), (28, 28), (1, 1), (2, 6)]:
        groups = lattice_groups(h, w)
        total = sum(m for m, _ in groups)
        assert torch.equal(total, torch.ones(1, 1, h, w))
        sizes = [int(m.sum()) for m, _ in groups]
        assert sizes[0] == 1 and sizes[-1] == max(sizes)


def test_split_group_partitions_a_group_into_interleaved_parts() -> None:
    for mask, _ in lattice_groups(8, 8):
        for size in (None, 1, 3, 8):
            parts = split_group(mask, size)
            assert torch.equal(sum(parts), mask)
            sizes = [int(p.sum()) for p in parts]
            assert max(sizes) <= (size or int(mask.sum())) and max(sizes) - min(sizes) <= 1
    odd = lattice_groups(8, 8)[-1][0]  # the 32 checkerboard-odd pixels: parts of 8 take every 4th in raster order
    assert [int(p[0, 0].nonzero()[0, 1]) for p in split_group(odd, 8)] == [1, 3, 5, 7]


@pytest.mark.parametrize("group_size", [None, 1])
def test_quantized_front_is_an_exact_categorical_model(group_size: int | None) -> None:
    """With a uniform base the front end's density is constant on every cell, and the cell
    probabilities exp(log_det) / K^D sum to one over all K^D cells."""
    levels, shape = 3, (1, 2, 2)
    torch.manual_seed(0)
    cfg = FlowConfig(front_net="mlp", front_hidden=[8], front_group_size=group_size)
    front = FlowSequence(quantized_front(shape, levels, cfg)).double().eval()
    assert len(front.layers) == (3 if group_size is None else 4)
    with torch.no_grad():
        for p in front.parameters():
            p.add_(0.5 * torch.randn_like(p))
    cells = torch.tensor(list(itertools.product(range(levels), repeat=4)), dtype=torch.float64).view(-1, *shape)
    with torch.no_grad():
        u, log_det = front((cells + 0.5) / levels)
        _, log_det_corner = front((cells + 0.01) / levels)
    torch.testing.assert_close(log_det_corner, log_det)  # constant inside a cell
    assert float(u.min()) >= 0.0 and float(u.max()) <= 1.0
    total = torch.exp(log_det - 4 * math.log(levels)).sum()
    torch.testing.assert_close(total, torch.tensor(1.0, dtype=torch.float64))


@pytest.mark.parametrize(
    "build",
    [
        lambda: LogitTransform(0.6),
        lambda: ProbitTransform(0.0),
        lambda: AffineCoupling(alternating_mask(2, 0), flat_mlp((2,), [4], 2), scale_bound=0.0),
        lambda: SplineCoupling(alternating_mask(2, 0), flat_mlp((2,), [4], 2), bins=1),
        lambda: QuantizedCoupling(alternating_mask(2, 0), alternating_mask(2, 0), flat_mlp((2,), [4], 3), 3),
    ],
)
def test_bad_layer_arguments_are_rejected(build) -> None:  # noqa: ANN001
    with pytest.raises(ValueError):
        build()


# ------------------------------------------------------------------ the model


def perturbed(info: DatasetInfo, scale: float = 0.2, **config) -> torch.nn.Module:  # noqa: ANN003
    """An untrained model whose couplings are not the identity."""
    torch.manual_seed(0)
    model = build_model("flow", config, info)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))
    return model.eval()


@pytest.mark.parametrize(("coupling", "base"), [("spline", "gaussian"), ("affine", "gaussian"), ("affine", "mixture")])
def test_point_density_integrates_to_one(coupling: str, base: str) -> None:
    """An untrained (randomly perturbed) flow's density, summed on a fine grid, has mass 1."""
    model = perturbed(POINTS, scale=0.1, point_coupling=coupling, mlp_hidden=[16], point_layers=4, spline_bins=8,
                      base=base, base_components=3).double()  # fmt: skip
    step = 0.05
    axis = torch.arange(-7.0, 7.0, step, dtype=torch.float64) + step / 2
    grid = torch.cartesian_prod(axis, axis)
    with torch.no_grad():
        log_p = torch.cat([model.log_likelihood(chunk) for chunk in grid.split(50_000)])
    mass = float(log_p.exp().sum() * step * step)
    assert abs(mass - 1.0) < 2e-3, mass
    log_normal = -0.5 * (grid**2).sum(1) - math.log(2 * math.pi)
    assert float((log_p - log_normal)[grid.norm(dim=1) < 3].abs().max()) > 0.1  # not the identity flow


def trained_a_little(info: DatasetInfo) -> torch.nn.Module:
    """Two optimisation steps: initialises actnorm and the front end from data."""
    torch.manual_seed(0)
    model = build_model("flow", {"conv_width": 8, "mlp_hidden": [16], "front_hidden": [16]}, info).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    x = torch.rand((32, *info.shape), generator=g)
    if info.levels is not None:
        x = torch.round(x * (info.levels - 1)) / (info.levels - 1)
    for _ in range(2):
        (_, loss), = model.training_losses(x, None, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@pytest.mark.parametrize("info", [IMAGE, POINTS], ids=["image", "points"])
def test_save_load_reproduces_log_likelihood(info: DatasetInfo, tmp_path) -> None:
    model = trained_a_little(info)
    initialised = [int(b) for name, b in model.named_buffers() if name.endswith("initialized")]
    assert initialised and all(initialised)
    ckpt.write_model(tmp_path, model, "flow")
    loaded = ckpt.load_model(tmp_path)
    v = dequantize(torch.rand((16, *info.shape), generator=torch.Generator().manual_seed(4)), info.levels, torch.Generator().manual_seed(5))
    with torch.no_grad():
        torch.testing.assert_close(loaded.log_likelihood(v), model.log_likelihood(v))
        loaded.train()
        loaded.log_likelihood(v)  # a training-mode pass after loading must not re-initialise
        torch.testing.assert_close(loaded.eval().log_likelihood(v), model.log_likelihood(v))


def test_samples_at_temperature_zero_decode_the_zero_latent() -> None:
    model = trained_a_little(POINTS)
    with torch.no_grad():
        s = model.sample(4, torch.Generator().manual_seed(0), temperature=0.0)
        torch.testing.assert_close(s, model.decode(torch.zeros(4, 2)))


def test_mixture_base_samples_decode_its_latents() -> None:
    """With a mixture base, ``sample`` decodes ``sample_latent`` draws and PPL is told to lerp."""
    torch.manual_seed(0)
    model = build_model("flow", {"base": "mixture", "base_components": 4, "mlp_hidden": [16]}, POINTS).eval()
    with torch.no_grad():
        s = model.sample(8, torch.Generator().manual_seed(3))
        z = model.sample_latent(8, torch.Generator().manual_seed(3))
        torch.testing.assert_close(s, model.decode(z))
        torch.testing.assert_close(model.log_base(z), model.base.log_prob(z))
    assert not model.gaussian_latent and build_model("flow", {}, POINTS).gaussian_latent


def test_a_data_initialised_mixture_base_starts_on_the_first_batchs_latents(tmp_path) -> None:
    """base_init data: the first training pass puts the base means on that batch's latents (after
    actnorm's own init), once; a loaded checkpoint does not start again; random leaves them alone."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(12, 2, generator=g)
    model = build_model("flow", {"base": "mixture", "base_components": 4, "mlp_hidden": [16]}, POINTS).train()
    model.log_likelihood(x)
    with torch.no_grad():
        z, _ = model.flow(x)
    torch.testing.assert_close(model.base.means, z[:4])
    model.log_likelihood(torch.rand(12, 2, generator=g))  # a second pass leaves them
    torch.testing.assert_close(model.base.means, z[:4])
    ckpt.write_model(tmp_path, model, "flow")
    loaded = ckpt.load_model(tmp_path).train()
    loaded.log_likelihood(torch.rand(12, 2, generator=g))
    torch.testing.assert_close(loaded.base.means, z[:4])
    torch.manual_seed(1)
    random = build_model("flow", {"base": "mixture", "base_components": 4, "mlp_hidden": [16], "base_init": "random"}, POINTS).train()
    before = random.base.means.clone()
    random.log_likelihood(x)
    torch.testing.assert_close(random.base.means, before)


def test_images_decode_into_the_unit_interval_even_from_far_latents() -> None:
    model = trained_a_little(IMAGE)
    with torch.no_grad():
        x = model.decode(8.0 * torch.randn(16, 64, generator=torch.Generator().manual_seed(0)))
    assert x.shape == (16, 1, 8, 8) and float(x.min()) >= 0.0 and float(x.max()) <= 1.0


def test_image_log_likelihood_is_exact_through_the_whole_flow() -> None:
    """log p(v) = log N(f(v)) + log|det J_f| with J_f from autograd (tiny image, float64)."""
    model = perturbed(TINY, scale=0.05, conv_width=4, front_hidden=[8]).double()
    v = dequantize(torch.rand(2, 1, 4, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64), 5, torch.Generator().manual_seed(1))
    ll = model.log_likelihood(v)
    for i in range(2):
        z = model.flow(v[i : i + 1])[0].flatten()
        jac = torch.autograd.functional.jacobian(lambda flat: model.flow(flat.view(1, 1, 4, 4))[0].flatten(), v[i].flatten())
        expected = -0.5 * (z @ z + 16 * math.log(2 * math.pi)) + torch.linalg.slogdet(jac)[1]
        torch.testing.assert_close(ll[i], expected.detach())


@pytest.mark.parametrize(
    ("info", "config"),
    [
        (DatasetInfo("flat", "image", (8, 8), 17, None, (0.0, 1.0)), {}),
        (DatasetInfo("line", "points", (1,), None, None, (0.0, 1.0)), {}),
    ],
    ids=["image-without-channels", "one-dimensional-points"],
)
def test_unsupported_shapes_are_rejected(info: DatasetInfo, config: dict) -> None:
    with pytest.raises(ValueError, match="flow needs"):
        build_model("flow", config, info)


def test_wrong_input_shapes_are_rejected() -> None:
    model = build_model("flow", {}, POINTS)
    with pytest.raises(ValueError, match="inputs shaped"):
        model.log_likelihood(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="latents must be shaped"):
        model.decode(torch.zeros(3, 5))


def test_the_whole_image_flow_is_invertible_with_cancelling_log_dets() -> None:
    """The digits flow's default layout (quantized MADE front end, multi-scale couplings; narrower
    nets), perturbed off the identity: ``flow.inverse`` undoes ``flow`` on a batch of dequantized
    images, the two log-dets cancel, and the latent has ``latent_dim`` elements."""
    model = perturbed(IMAGE, scale=0.05, conv_width=8, front_hidden=[64]).double()
    levels = IMAGE.levels
    x = torch.round(torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * (levels - 1)) / (levels - 1)
    v = dequantize(x, levels, torch.Generator().manual_seed(1))
    with torch.no_grad():
        z, log_det = model.flow(v)
        back, log_det_inv = model.flow.inverse(z)
    assert z.shape[0] == 6 and z[0].numel() == model.latent_dim == 64
    assert log_det.shape == (6,) and bool(log_det.abs().min() > 1e-3)  # not the identity map
    torch.testing.assert_close(back, v, atol=1e-6, rtol=0)
    torch.testing.assert_close(log_det + log_det_inv, torch.zeros(6, dtype=torch.float64), atol=1e-6, rtol=0)
