"""Perceptual path length: analytic values for linear generators, slerp, distances."""

import numpy as np
import pytest
import torch

from genmodels.metrics import (
    normalized_activation_distance,
    perceptual_path_length,
    squared_euclidean_distance,
)
from genmodels.metrics.ppl import lerp, slerp

LATENT = 6
A = torch.randn(5, LATENT, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def linear_generator(z: torch.Tensor) -> torch.Tensor:
    return z @ A.T.to(z.dtype)


def ppl(**kwargs):
    args = dict(generate=linear_generator, distance=squared_euclidean_distance, n=4000,
                latent_dim=LATENT, dtype=torch.float64, lower=None, upper=None)
    args.update(kwargs)
    return perceptual_path_length(**args)


def test_lerp_linear_generator_analytic_mean_and_std():
    """||A (z1 - z0)||^2 with z1 - z0 ~ N(0, 2I): mean 2||A||_F^2, var 8 sum eig(A^T A)^2."""
    mean, std = ppl(interpolation="lerp", sampling="full")
    eigenvalues = np.linalg.eigvalsh((A.T @ A).numpy())
    expected_mean = 2 * float((A**2).sum())
    expected_std = np.sqrt(8 * np.sum(eigenvalues**2))
    assert mean == pytest.approx(expected_mean, abs=4 * expected_std / np.sqrt(4000))
    assert std == pytest.approx(expected_std, rel=0.1)


def test_lerp_values_do_not_depend_on_t():
    full = ppl(interpolation="lerp", sampling="full", n=500)
    end = ppl(interpolation="lerp", sampling="end", n=500)
    np.testing.assert_allclose(full, end, rtol=1e-6)


def test_slerp_end_sampling_matches_derivative_of_slerp():
    """t = 0: i(eps) - z0 -> eps omega / sin(omega) (z1 - cos(omega) z0); Monte Carlo check."""
    rng = np.random.default_rng(0)
    z0, z1 = rng.standard_normal((200_000, LATENT)), rng.standard_normal((200_000, LATENT))
    cos = np.sum(z0 * z1, 1) / np.linalg.norm(z0, axis=1) / np.linalg.norm(z1, axis=1)
    omega = np.arccos(cos)
    tangent = (omega / np.sin(omega))[:, None] * (z1 - cos[:, None] * z0)
    expected = np.mean(np.sum((tangent @ A.numpy().T) ** 2, axis=1))
    mean, _ = ppl(sampling="end", n=20_000, batch_size=5000)
    assert mean == pytest.approx(expected, rel=0.03)


def test_batch_size_independent_and_seeded():
    weight = torch.randn(3, LATENT, generator=torch.Generator().manual_seed(1), dtype=torch.float64)

    def nonlinear(z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(z @ weight.T) ** 2

    kwargs = dict(generate=nonlinear, n=300, lower=1, upper=99)
    reference = ppl(batch_size=300, **kwargs)
    for batch_size in (1, 7, 64):
        np.testing.assert_allclose(ppl(batch_size=batch_size, **kwargs), reference, rtol=1e-9)
    assert ppl(batch_size=64, seed=1, **kwargs) != reference


def test_percentile_trimming_matches_numpy():
    recorded = []

    def recording_distance(x, y):
        value = squared_euclidean_distance(x, y)
        recorded.append(value)
        return value

    eps = 1e-2
    mean, std = perceptual_path_length(
        torch.sin, recording_distance, n=1000, latent_dim=3, epsilon=eps, dtype=torch.float64
    )
    raw = torch.cat(recorded).numpy() / eps**2
    lo, hi = np.percentile(raw, 1, method="lower"), np.percentile(raw, 99, method="higher")
    kept = raw[(raw >= lo) & (raw <= hi)]
    assert len(kept) < len(raw)
    assert mean == pytest.approx(kept.mean(), rel=1e-12)
    assert std == pytest.approx(kept.std(), rel=1e-12)


def test_uniform_space_uses_lerp_by_default():
    by_default = ppl(space="uniform", n=200)
    explicit = ppl(space="uniform", interpolation="lerp", n=200)
    assert by_default == explicit


def test_slerp_properties():
    gen = torch.Generator().manual_seed(2)
    a = torch.randn(10, 4, generator=gen, dtype=torch.float64)
    b = torch.randn(10, 4, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(slerp(a, b, torch.zeros(10, dtype=torch.float64)), a)
    torch.testing.assert_close(slerp(a, b, torch.ones(10, dtype=torch.float64)), b)
    unit_a, unit_b = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    t = torch.rand(10, generator=gen, dtype=torch.float64)
    mid = slerp(unit_a, unit_b, t)
    torch.testing.assert_close(mid.norm(dim=1), torch.ones(10, dtype=torch.float64))
    omega = torch.acos((unit_a * unit_b).sum(1))
    torch.testing.assert_close(torch.acos((mid * unit_a).sum(1).clamp(-1, 1)), t * omega)
    torch.testing.assert_close(slerp(a, a.clone(), t), a)  # collinear -> lerp
    zero = torch.zeros_like(a)
    torch.testing.assert_close(slerp(zero, b, t), lerp(zero, b, t))


def test_squared_euclidean_distance():
    x, y = torch.randn(4, 2, 3, 3), torch.randn(4, 2, 3, 3)
    expected = ((x - y) ** 2).double().sum(dim=(1, 2, 3))
    torch.testing.assert_close(squared_euclidean_distance(x, y), expected)
    with pytest.raises(ValueError, match="same batched shape"):
        squared_euclidean_distance(x, y[:2])


def test_normalized_activation_distance():
    gen = torch.Generator().manual_seed(3)
    x, y = torch.randn(3, 4, 5, 5, generator=gen), torch.randn(3, 4, 5, 5, generator=gen)

    def activations(v):
        return [v, v.mean(dim=(2, 3))]  # a spatial layer and a flat (n, C) layer

    distance = normalized_activation_distance(activations)
    expected = torch.zeros(3, dtype=torch.float64)
    for i in range(3):
        for fx, fy in zip(activations(x[i : i + 1].double()), activations(y[i : i + 1].double())):
            fx, fy = fx / fx.norm(dim=1, keepdim=True), fy / fy.norm(dim=1, keepdim=True)
            expected[i] += ((fx - fy) ** 2).sum(dim=1).mean()
    torch.testing.assert_close(distance(x, y), expected)
    torch.testing.assert_close(distance(x, 2.5 * x), torch.zeros(3, dtype=torch.float64))  # scale-free
    assert (distance(x, y) <= 4 * 2).all()  # at most 4 per layer


def test_lpips_style_ppl_runs_end_to_end():
    conv = torch.nn.Conv2d(1, 4, 3, padding=1)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=torch.Generator().manual_seed(4)))

    def generate(z):
        return torch.tanh(z[:, :16].reshape(-1, 1, 4, 4))

    distance = normalized_activation_distance(lambda v: [conv(v), torch.relu(conv(v))])
    mean, std = perceptual_path_length(generate, distance, n=64, latent_dim=16, batch_size=16)
    assert np.isfinite(mean) and mean > 0 and std >= 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(sampling="middle"), "sampling"),
        (dict(space="sphere"), "space"),
        (dict(interpolation="cubic"), "interpolation"),
        (dict(lower=50, upper=10), "below"),
        (dict(upper=100), "upper"),
        (dict(epsilon=0.0), "epsilon"),
        (dict(n=0), "n must"),
        (dict(batch_size=0), "batch_size"),
        (dict(generate=lambda z: z[:1]), "generate returned"),
        (dict(distance=lambda x, y: (x - y).sum()), "distance must return"),
        (dict(distance=lambda x, y: torch.full((x.shape[0],), float("nan"))), "NaN"),
    ],
)
def test_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ppl(**{"n": 10, **kwargs})


def test_draw_replaces_the_prior_and_lerps():
    """Latents from ``draw`` with std s: lerp PPL of a linear generator has mean 2 s^2 ||A||_F^2."""
    def draw(n, gen):
        return 2.0 * torch.randn(n, LATENT, generator=gen, dtype=torch.float64)

    mean, std = ppl(draw=draw, sampling="full")
    expected_std = np.sqrt(8 * 16 * np.sum(np.linalg.eigvalsh((A.T @ A).numpy()) ** 2))
    assert mean == pytest.approx(2 * 4 * float((A**2).sum()), abs=4 * expected_std / np.sqrt(4000))
    with pytest.raises(ValueError, match="shape"):
        ppl(draw=lambda n, gen: torch.zeros(n, LATENT + 1), n=10)
