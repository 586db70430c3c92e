"""GAN specifics: network shapes, the WGAN-GP and R1 penalties by hand, the update order, the config."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from genmodels.data.base import DatasetInfo
from genmodels.errors import ConfigError
from genmodels.metrics.diagnostics import auroc
from genmodels.models import build_model
from genmodels.models.gan.model import GAN, gradient_penalty, r1_logits_and_penalty
from genmodels.training import checkpoint as ckpt
from genmodels.training.local import train_local
from genmodels.training.loop import TrainJob

IMAGE = DatasetInfo("digits", "image", (1, 8, 8), 17, 10, (0.0, 1.0))
RGB = DatasetInfo("rgb", "image", (3, 16, 16), 256, None, (0.0, 1.0))
POINTS = DatasetInfo("toy2d", "points", (2,), None, 8, (-2.5, 2.5))


def gan(info: DatasetInfo, **cfg: object) -> GAN:
    torch.manual_seed(0)
    model = build_model("gan", cfg, info)
    assert isinstance(model, GAN)
    return model


def data(info: DatasetInfo, n: int = 20) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    if info.kind == "image":
        return torch.round(torch.rand((n, *info.shape), generator=g) * (info.levels - 1)) / (info.levels - 1)
    return torch.randn((n, *info.shape), generator=g)


@pytest.mark.parametrize(("info", "arch"), [(IMAGE, "conv"), (RGB, "conv"), (POINTS, "mlp"), (IMAGE, "mlp")])
def test_generator_and_discriminator_shapes(info: DatasetInfo, arch: str) -> None:
    model = gan(info, arch=arch, latent_dim=5, conv_width=8, hidden=[16, 16])
    assert model.arch == arch
    z = torch.randn(7, 5)
    v = model.generate(z)
    assert v.shape == (7, *info.shape)
    assert model.discriminator(v).shape == (7,)
    x = model.decode(z)
    assert x.shape == (7, *info.shape)
    if info.kind == "image":
        assert 0.0 < v.min() and v.max() < 1.0  # sigmoid into the dequantized cube
        assert 0.0 <= x.min() and x.max() <= 1.0


def test_auto_arch_uses_convolutions_from_16_pixels_up() -> None:
    assert gan(RGB).arch == "conv"
    small, points = gan(IMAGE), gan(POINTS)
    assert small.arch == "mlp" and points.arch == "mlp"
    assert [m.out_features for m in small.generator.net if isinstance(m, nn.Linear)] == [512, 512, 64]
    assert [m.out_features for m in points.generator.net if isinstance(m, nn.Linear)] == [128, 128, 2]


def test_gradient_penalty_of_a_linear_critic_equals_the_hand_computation() -> None:
    # D(x) = w . x + b has gradient w everywhere, so the penalty is (||w|| - 1)^2.
    critic = nn.Sequential(nn.Flatten(), nn.Linear(4, 1))
    with torch.no_grad():
        critic[1].weight.copy_(torch.tensor([[1.0, 2.0, -2.0, 0.5]]))
        critic[1].bias.fill_(3.0)
    real, fake = torch.randn(6, 2, 2), torch.randn(6, 2, 2)
    gp = gradient_penalty(critic, real, fake, torch.rand(6))
    expected = (torch.tensor(1.0 + 4.0 + 4.0 + 0.25).sqrt() - 1.0) ** 2
    torch.testing.assert_close(gp, expected)
    gp.backward()  # the penalty trains the critic: d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    w = critic[1].weight.detach()
    torch.testing.assert_close(critic[1].weight.grad, 2 * (w.norm() - 1) * w / w.norm())


def test_gradient_penalty_is_taken_at_the_interpolates() -> None:
    # D(x) = ||x||^2 / 2 has gradient x, so the penalty is mean (||x_hat|| - 1)^2 at x_hat = r + eps (f - r).
    real = torch.tensor([[3.0, 0.0], [0.0, 1.0]])
    fake = torch.tensor([[1.0, 0.0], [0.0, 5.0]])
    eps = torch.tensor([0.5, 0.25])
    gp = gradient_penalty(lambda x: 0.5 * (x**2).sum(1), real, fake, eps)
    torch.testing.assert_close(gp, torch.tensor(((2.0 - 1.0) ** 2 + (2.0 - 1.0) ** 2) / 2))
    with torch.no_grad():  # value only, still computable without a graph
        torch.testing.assert_close(gradient_penalty(lambda x: 0.5 * (x**2).sum(1), real, fake, eps), gp.detach())
    with pytest.raises(ValueError, match="do not match"):
        gradient_penalty(lambda x: x.sum(1), real, fake, torch.rand(3))


def test_r1_penalty_of_a_linear_critic_is_the_squared_weight_norm() -> None:
    critic = nn.Linear(3, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[1.0, -2.0, 2.0]]))
    logits, r1 = r1_logits_and_penalty(lambda x: critic(x).squeeze(1), torch.randn(5, 3))
    assert logits.shape == (5,)
    torch.testing.assert_close(r1, torch.tensor(9.0))


@pytest.mark.parametrize(("cfg", "groups"), [
    ({}, ["discriminator", "generator"]),
    ({"loss": "wgan-gp"}, ["discriminator"] * 5 + ["generator"]),
    ({"loss": "wgan-gp", "n_critic": 2}, ["discriminator"] * 2 + ["generator"]),
    ({"n_critic": 3, "r1_weight": 1.0}, ["discriminator"] * 3 + ["generator"]),
])  # fmt: skip
def test_n_critic_discriminator_steps_then_one_generator_step(cfg: dict, groups: list[str]) -> None:
    model = gan(POINTS, hidden=[8], **cfg)
    opts = {k: torch.optim.Adam(list(p), lr=1e-3) for k, p in model.optimizer_groups().items()}
    seen = []
    for group, loss in model.training_losses(data(POINTS), None, torch.Generator().manual_seed(0)):
        assert torch.isfinite(loss) and loss.dim() == 0
        opts[group].zero_grad()
        loss.backward()
        opts[group].step()
        seen.append(group)
    assert seen == groups
    assert all(p.requires_grad for p in model.discriminator.parameters())  # restored after the generator step


def test_generator_step_leaves_discriminator_weights_without_gradients() -> None:
    model = gan(POINTS, hidden=[8])
    steps = model.training_losses(data(POINTS), None, torch.Generator().manual_seed(0))
    next(steps)[1].backward()
    model.discriminator.zero_grad(set_to_none=True)
    group, loss = next(steps)
    loss.backward()
    assert group == "generator"
    assert all(p.grad is None for p in model.discriminator.parameters())
    assert all(p.grad is not None for p in model.generator.parameters())


def test_batch_smaller_than_n_critic_is_rejected() -> None:
    model = gan(POINTS, hidden=[8], loss="wgan-gp")
    with pytest.raises(ValueError, match="n_critic=5"):
        list(model.training_losses(data(POINTS, 3), None, torch.Generator()))


def test_discriminator_sees_dequantized_real_images(monkeypatch: pytest.MonkeyPatch) -> None:
    model = gan(IMAGE, conv_width=4)
    seen: list[torch.Tensor] = []
    original = model.discriminator_loss
    monkeypatch.setattr(model, "discriminator_loss", lambda real, fake, g: seen.append(real) or original(real, fake, g))
    x = data(IMAGE)
    list(model.training_losses(x, None, torch.Generator().manual_seed(0)))
    (real,) = seen
    k = torch.round(x * 16)
    assert torch.all((real * 17 >= k) & (real * 17 < k + 1))  # v = (k + u) / K with u in [0, 1)
    assert not torch.allclose(real, x)


def test_sampler_is_the_weight_average_and_updates_only_when_training() -> None:
    model = gan(POINTS, hidden=[8]).train()
    opts = {k: torch.optim.Adam(list(p), lr=1e-2) for k, p in model.optimizer_groups().items()}
    x = data(POINTS)
    with torch.no_grad():  # evaluating the losses must not move the average
        list(model.training_losses(x, None, torch.Generator().manual_seed(0)))
    assert int(model.ema_steps) == 0
    for _ in range(3):
        for group, loss in model.training_losses(x, None, torch.Generator().manual_seed(0)):
            opts[group].zero_grad()
            loss.backward()
            opts[group].step()
    assert int(model.ema_steps) == 3
    z = torch.randn(4, model.latent_dim)
    with torch.no_grad():
        raw, averaged = model.generator(z), model.decode(z)
    assert not torch.allclose(raw, averaged)
    plain = gan(POINTS, hidden=[8], ema_decay=0.0)
    assert plain.generator_ema is None
    torch.testing.assert_close(plain.decode(z), plain.generator(z))


def test_anomaly_score_is_low_on_real_data_and_high_on_the_fakes_the_discriminator_rejects() -> None:
    """Train the discriminator alone on a point cluster against the (fixed) generator: the score
    (higher = more anomalous) must rank fresh cluster points below the generator's outputs."""
    model = gan(POINTS, hidden=[32, 32])
    opt = torch.optim.Adam(model.discriminator.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    centre = torch.tensor([1.5, -1.0])
    real = 0.2 * torch.randn(64, 2, generator=g) + centre
    for _ in range(30):
        for group, loss in model.training_losses(real, None, g):
            if group != "discriminator":
                break  # the generator stays as initialised
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    near = 0.2 * torch.randn(64, 2, generator=g) + centre
    with torch.no_grad():
        fakes = model.generate(torch.randn(64, model.latent_dim, generator=g))
    s_real, s_fake = model.anomaly_score(near, g), model.anomaly_score(fakes, g)
    assert s_real.shape == (64,) and not s_real.requires_grad
    assert float(s_real.mean()) < 0.0 < float(s_fake.mean())  # the sign: real-looking inputs score low
    assert auroc(s_real.numpy(), s_fake.numpy()) > 0.99
    assert model.likelihood_kind is None
    with pytest.raises(ValueError, match="expected shape"):
        model.anomaly_score(torch.zeros(3, 3), g)


def test_sampling_is_reproducible_and_validated() -> None:
    model = gan(IMAGE, conv_width=4).eval()
    a = model.sample(6, torch.Generator().manual_seed(1))
    b = model.sample(6, torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="temperature"):
        model.sample(2, torch.Generator(), temperature=0.0)
    with pytest.raises(ValueError, match="latents of shape"):
        model.decode(torch.zeros(2, model.latent_dim + 1))
    with pytest.raises(ValueError, match="expected a batch of shape"):
        list(model.training_losses(torch.zeros(4, 2), None, torch.Generator()))


@pytest.mark.parametrize(("cfg", "key"), [
    ({"loss": "hinge"}, "model.loss"),
    ({"n_critic": 0}, "model.n_critic"),
    ({"gp_weight": -1.0}, "model.gp_weight"),
    ({"ema_decay": 1.0}, "model.ema_decay"),
    ({"hidden": []}, "model.hidden"),
    ({"hidden": [8, 0]}, "model.hidden.1"),
    ({"latent_size": 8}, "model.latent_size: unknown key"),
])  # fmt: skip
def test_bad_config_names_the_key(cfg: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        build_model("gan", cfg, POINTS)


def test_conv_arch_needs_images() -> None:
    with pytest.raises(ValueError, match="gan.arch=conv needs image data"):
        build_model("gan", {"arch": "conv"}, POINTS)


def test_the_trainer_runs_both_groups_and_is_reproducible(tmp_path) -> None:
    x = np.random.default_rng(0).standard_normal((96, 2)).astype(np.float32)
    job = TrainJob.create(
        name="gan", family="gan", model_config={"hidden": [16], "latent_dim": 4},
        fit={"epochs": 2, "batch_size": 32, "lr": 1e-3, "betas": [0.0, 0.99]}, info=POINTS, seed=3,
    )  # fmt: skip
    runs = [train_local(job, x, None, tmp_path / name) for name in ("a", "b")]
    history = ckpt.read_trainer_state(runs[0])["history"]
    assert {"loss/discriminator", "loss/generator"} <= set(history[-1])
    assert all(np.isfinite(v) for row in history for v in row.values())
    a, b = (torch.load(r / ckpt.MODEL_FILE, weights_only=True) for r in runs)
    assert int(a["ema_steps"]) == 2 * 3  # one average update per generator step
    for k, v in a.items():
        torch.testing.assert_close(v, b[k], rtol=0, atol=0)


@pytest.mark.parametrize("info", [IMAGE, RGB])
def test_spectral_norm_discriminator_trains_and_round_trips(info: DatasetInfo, tmp_path) -> None:
    model = gan(info, spectral_norm=True, conv_width=4, hidden=[16])
    assert any("parametrizations" in k for k in model.state_dict())
    for _, loss in model.training_losses(data(info, 8), None, torch.Generator().manual_seed(0)):
        loss.backward()
    ckpt.write_model(tmp_path, model.eval(), "gan")
    loaded = ckpt.load_model(tmp_path)
    v = torch.rand(3, *info.shape)
    torch.testing.assert_close(loaded.anomaly_score(v, torch.Generator()), model.anomaly_score(v, torch.Generator()))
