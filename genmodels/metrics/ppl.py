"""Perceptual path length (PPL).

Karras et al. 2019, "A Style-Based Generator Architecture for GANs", section 3:

    PPL = E[ d(G(i(z0, z1; t)), G(i(z0, z1; t + eps))) / eps^2 ],

with z0, z1 drawn from the latent prior, t ~ U[0, 1] (``sampling="full"``) or t = 0
(``"end"``), i = slerp for Gaussian latents (lerp for uniform ones, or on request) and d
a perceptual distance. As in Karras et al. and torch-fidelity, values outside the
[lower, upper] percentiles (``np.percentile`` with method "lower" / "higher") are
discarded before taking the mean and the std (ddof = 0).

``slerp`` is the endpoint-preserving form of Shoemake 1985, applied to unnormalised
vectors (the angle comes from the normalised ones), like torch-fidelity's "slerp_any";
nearly collinear or zero pairs fall back to lerp.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from genmodels.metrics import defaults

__all__ = [
    "lerp",
    "normalized_activation_distance",
    "perceptual_path_length",
    "slerp",
    "squared_euclidean_distance",
]

Distance = Callable[[Tensor, Tensor], Tensor]


def lerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Linear interpolation a + t (b - a) of row batches (n, d) with t of shape (n,)."""
    return a + (b - a) * t.unsqueeze(-1)


def slerp(a: Tensor, b: Tensor, t: Tensor, eps: float = 1e-7) -> Tensor:
    """Spherical interpolation (Shoemake 1985) of row batches (n, d), t of shape (n,).

    With omega the angle between a and b:
    i(t) = sin((1 - t) omega) / sin(omega) a + sin(t omega) / sin(omega) b, so i(0) = a,
    i(1) = b and unit vectors stay on the unit sphere. Pairs with sin(omega) < eps or a
    zero vector use lerp.
    """
    a_norm = a.norm(dim=-1, keepdim=True)
    b_norm = b.norm(dim=-1, keepdim=True)
    cos = ((a / a_norm.clamp_min(eps)) * (b / b_norm.clamp_min(eps))).sum(-1, keepdim=True)
    omega = cos.clamp(-1.0, 1.0).acos()
    sin_omega = omega.sin()
    t = t.unsqueeze(-1)
    degenerate = (sin_omega < eps) | (a_norm < eps) | (b_norm < eps)
    safe_sin = torch.where(degenerate, torch.ones_like(sin_omega), sin_omega)
    spherical = (((1.0 - t) * omega).sin() * a + (t * omega).sin() * b) / safe_sin
    return torch.where(degenerate, a + (b - a) * t, spherical)


def squared_euclidean_distance(x: Tensor, y: Tensor) -> Tensor:
    """Per-pair ||x_i - y_i||^2 over all non-batch dimensions, in float64."""
    if x.shape != y.shape or x.dim() < 1:
        raise ValueError(f"x and y must have the same batched shape, got {tuple(x.shape)}, {tuple(y.shape)}")
    return (x - y).double().reshape(x.shape[0], -1).square().sum(dim=1)


def normalized_activation_distance(
    activations_fn: Callable[[Tensor], Sequence[Tensor] | Tensor], eps: float = 1e-10
) -> Distance:
    """LPIPS-style distance without learned weights (Zhang et al. 2018, eq. 1, w_l = 1).

    d(x, y) = sum_l mean_{h,w} || f_l(x)_hw / ||f_l(x)_hw|| - f_l(y)_hw / ||f_l(y)_hw|| ||^2,
    where ``activations_fn`` returns the per-layer activations f_l, each (n, C, ...) with
    channels on dim 1 (flat (n, C) features have no spatial mean). Float64 arithmetic.
    """

    def distance(x: Tensor, y: Tensor) -> Tensor:
        acts_x, acts_y = activations_fn(x), activations_fn(y)
        if isinstance(acts_x, Tensor):
            acts_x, acts_y = [acts_x], [acts_y]
        if len(acts_x) == 0 or len(acts_x) != len(acts_y):
            raise ValueError("activations_fn must return the same non-empty list of layers for x and y")
        total = torch.zeros(x.shape[0], dtype=torch.float64, device=x.device)
        for fx, fy in zip(acts_x, acts_y):
            if fx.shape != fy.shape or fx.dim() < 2 or fx.shape[0] != x.shape[0]:
                raise ValueError(f"layer activations must be (n, C, ...), got {tuple(fx.shape)}")
            fx, fy = fx.double(), fy.double()
            fx = fx / (fx.norm(dim=1, keepdim=True) + eps)
            fy = fy / (fy.norm(dim=1, keepdim=True) + eps)
            per_position = (fx - fy).square().sum(dim=1).reshape(x.shape[0], -1)
            total += per_position.mean(dim=1).to(total.device)
        return total

    return distance


def _check_ppl_args(n: int, latent_dim: int, epsilon: float, sampling: str, space: str,
                    interpolation: str | None, batch_size: int,
                    lower: float | None, upper: float | None) -> None:
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if not isinstance(latent_dim, int) or latent_dim < 1:
        raise ValueError(f"latent_dim must be a positive int, got {latent_dim!r}")
    if not epsilon > 0:
        raise ValueError(f"epsilon must be positive, got {epsilon!r}")
    if sampling not in ("full", "end"):
        raise ValueError(f"sampling must be 'full' or 'end', got {sampling!r}")
    if space not in ("gaussian", "uniform"):
        raise ValueError(f"space must be 'gaussian' or 'uniform', got {space!r}")
    if interpolation not in (None, "slerp", "lerp"):
        raise ValueError(f"interpolation must be None, 'slerp' or 'lerp', got {interpolation!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    for name, value in (("lower", lower), ("upper", upper)):
        if value is not None and not 0 < value < 100:
            raise ValueError(f"{name} percentile must be in (0, 100) or None, got {value!r}")
    if lower is not None and upper is not None and not lower < upper:
        raise ValueError(f"lower percentile {lower} must be below upper {upper}")


def perceptual_path_length(
    generate: Callable[[Tensor], Tensor],
    distance: Distance,
    n: int,
    latent_dim: int,
    epsilon: float = defaults.PPL_EPSILON,
    sampling: str = defaults.PPL_SAMPLING,
    space: str = "gaussian",
    batch_size: int = 64,
    seed: int = 0,
    lower: float | None = defaults.PPL_PERCENTILES[0],
    upper: float | None = defaults.PPL_PERCENTILES[1],
    *,
    interpolation: str | None = None,
    draw: Callable[[int, torch.Generator], Tensor] | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    with_median: bool = False,
) -> tuple[float, ...]:
    """PPL (Karras et al. 2019): mean and std (and, ``with_median``, the median) of d(G(i(t)), G(i(t + eps))) / eps^2.

    ``generate`` maps latents (b, latent_dim) to samples (called once per batch on the
    2b latents i(t) and i(t + eps)); ``distance`` maps two sample batches to (b,)
    distances. Latents z0, z1 (N(0, I) for ``space="gaussian"``, U[0, 1)^d for
    ``"uniform"``) and t are drawn up front from a ``torch.Generator`` seeded with
    ``seed`` on ``device``, so the result does not depend on ``batch_size``.
    ``draw(n, generator)``, if given, replaces ``space`` as the latent prior (a model's
    learned prior); its latents are lerped unless ``interpolation`` says otherwise, as
    Karras et al. do in their learned W space.
    ``interpolation`` defaults to slerp for Gaussian and lerp for uniform latents.
    ``lower``/``upper`` (percentiles, None to keep all) trim outliers.
    """
    _check_ppl_args(n, latent_dim, epsilon, sampling, space, interpolation, batch_size, lower, upper)
    interpolation = interpolation or ("slerp" if space == "gaussian" and draw is None else "lerp")
    interpolate = slerp if interpolation == "slerp" else lerp
    z0, z1, t = _endpoints(n, latent_dim, sampling, space, seed, draw, device, dtype)
    values = _path_distances(generate, distance, interpolate, z0, z1, t, epsilon, batch_size)
    kept = trimmed(values, lower, upper)
    if with_median:
        return float(kept.mean()), float(kept.std()), float(np.median(kept))
    return float(kept.mean()), float(kept.std())


def _endpoints(
    n: int, latent_dim: int, sampling: str, space: str, seed: int,
    draw: Callable[[int, torch.Generator], Tensor] | None, device: torch.device | str, dtype: torch.dtype,
) -> tuple[Tensor, Tensor, Tensor]:
    """Path ends z0, z1 and positions t, all from one generator seeded with ``seed`` (in that order)."""
    gen = torch.Generator(device=device).manual_seed(seed)
    if draw is None:
        prior = torch.randn if space == "gaussian" else torch.rand
        z0 = prior(n, latent_dim, generator=gen, device=device, dtype=dtype)
        z1 = prior(n, latent_dim, generator=gen, device=device, dtype=dtype)
    else:
        with torch.inference_mode():
            z0, z1 = (draw(n, gen).to(device=device, dtype=dtype) for _ in range(2))
        if z0.shape != (n, latent_dim):
            raise ValueError(f"draw returned latents of shape {tuple(z0.shape)}, expected ({n}, {latent_dim})")
    if sampling == "full":
        t = torch.rand(n, generator=gen, device=device, dtype=dtype)
    else:
        t = torch.zeros(n, device=device, dtype=dtype)
    return z0, z1, t


@torch.inference_mode()
def _path_distances(
    generate: Callable[[Tensor], Tensor], distance: Distance, interpolate: Callable[[Tensor, Tensor, Tensor], Tensor],
    z0: Tensor, z1: Tensor, t: Tensor, epsilon: float, batch_size: int,
) -> np.ndarray:
    """d(G(i(t)), G(i(t + eps))) / eps^2 per pair, in batches (float64)."""
    values = []
    for start in range(0, len(t), batch_size):
        batch = slice(start, min(start + batch_size, len(t)))
        b = batch.stop - batch.start
        za = interpolate(z0[batch], z1[batch], t[batch])
        zb = interpolate(z0[batch], z1[batch], t[batch] + epsilon)
        samples = generate(torch.cat([za, zb]))
        if samples.shape[0] != 2 * b:
            raise ValueError(f"generate returned {samples.shape[0]} samples for {2 * b} latents")
        dist = distance(samples[:b], samples[b:])
        if dist.shape != (b,):
            raise ValueError(f"distance must return shape ({b},), got {tuple(dist.shape)}")
        values.append(dist.double().cpu().numpy() / epsilon**2)
    out = np.concatenate(values)
    if not np.isfinite(out).all():
        raise ValueError("distance returned NaN or infinite values")
    return out


def trimmed(values: np.ndarray, lower: float | None, upper: float | None) -> np.ndarray:
    """The values between the ``lower`` and ``upper`` percentiles (None: no cut)."""
    keep = np.ones(values.shape, dtype=bool)
    if lower is not None:
        keep &= values >= np.percentile(values, lower, method="lower")
    if upper is not None:
        keep &= values <= np.percentile(values, upper, method="higher")
    return values[keep]
