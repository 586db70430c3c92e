"""Metrics that need the trained model: perceptual path length and the test likelihood."""

from __future__ import annotations

import math

import numpy as np
import torch

from genmodels.metrics.ppl import normalized_activation_distance, perceptual_path_length, squared_euclidean_distance
from genmodels.metrics.registry import NEEDS, EvalInputs, MetricKey, Undefined, register_metric
from genmodels.models.core.dequantize import bits_per_dim, dequantize


def generator(inp: EvalInputs, offset: int) -> torch.Generator:
    """The seeded generator of one random use inside the evaluation (``seed + offset``)."""
    return torch.Generator(device=inp.model.device).manual_seed(inp.seed + offset)


def batched(fn, x: torch.Tensor, batch_size: int) -> torch.Tensor:  # noqa: ANN001
    return torch.cat([fn(x[s : s + batch_size]) for s in range(0, len(x), batch_size)])


@register_metric(
    "ppl",
    [MetricKey("ppl", "lower", "perceptual path length E d(G(i(t)), G(i(t+ε)))/ε², ε = `ppl_epsilon`, slerp between N(0, I) latents or lerp between draws of a learned prior, 1st–99th percentile kept (median in `ppl_median`); distance: the evaluator's unit-normalised conv activations, squared Euclidean for points; null for a discontinuous (quantized) decoder (Karras et al. 2019)")],
    needs={"model"},
)  # fmt: skip
@torch.no_grad()
def ppl(inp: EvalInputs) -> dict[str, float]:
    model, cfg = inp.model, inp.cfg
    if model.latent_dim is None:
        raise Undefined(f"{type(model).__name__} has no latent decoder")
    if not model.continuous_decoder:
        raise Undefined(f"{type(model).__name__}'s decoder is discontinuous (quantized): path lengths would measure its jumps, not smoothness")
    if inp.info.kind == "image":
        distance = normalized_activation_distance(inp.extractor.perceptual_activations)
    else:
        distance = squared_euclidean_distance
    value, std, median = perceptual_path_length(
        model.decode, distance, n=cfg.ppl_samples, latent_dim=model.latent_dim, epsilon=cfg.ppl_epsilon,
        sampling=cfg.ppl_sampling, batch_size=cfg.batch_size, seed=inp.seed,
        draw=None if model.gaussian_latent else model.sample_latent, device=model.device, with_median=True,
    )  # fmt: skip
    return {"ppl": float(value), "ppl_std": float(std), "ppl_median": float(median)}


def test_tensor(inp: EvalInputs) -> torch.Tensor:
    x = inp.test_x[: inp.cfg.nll_max_samples] if inp.cfg.nll_max_samples else inp.test_x
    return torch.tensor(x, device=inp.model.device)


def bits(inp: EvalInputs, x: torch.Tensor) -> torch.Tensor:
    """Per-sample bits/dim of data-space ``x`` under the model (seeded dequantization and estimator noise)."""
    model, info = inp.model, inp.info
    v = dequantize(x, info.levels, generator(inp, 1))
    ll = batched(lambda b: model.log_likelihood(b, generator(inp, 2)), v, inp.cfg.batch_size).double()
    return bits_per_dim(ll, math.prod(info.shape), info.levels)


@register_metric(
    "nll",
    [MetricKey("nll_bits_per_dim", "lower", "test negative log-likelihood in bits per dimension (dequantization convention below); its kind — exact, upper bound (VAE) or estimate (RBM AIS) — is in notes"),
     MetricKey("nll_gap_bits_per_dim", None, "test minus train NLL (bits/dim) on a seeded training subset of the test set's size: ≈ 0 generalises, large positive = memorises")],
    needs={"model"},
)  # fmt: skip
@torch.no_grad()
def nll(inp: EvalInputs) -> dict:
    model = inp.model
    if model.likelihood_kind is None:
        raise Undefined(f"{type(model).__name__} has no tractable likelihood")
    test = test_tensor(inp)
    bpd = bits(inp, test)
    kind = model.likelihood_kind
    out = {
        "nll_bits_per_dim": float(bpd.mean()),
        "nll_bits_per_dim_stderr": float(bpd.std() / math.sqrt(len(bpd))),
        "notes": {"nll_bits_per_dim": f"{kind} ({'upper bound' if kind == 'bound' else kind} on NLL)"},
    }
    if inp.train_x is None:
        out["nll_gap_bits_per_dim"] = None
        out["notes"]["nll_gap_bits_per_dim"] = NEEDS["train"]
    else:
        pick = np.random.default_rng(inp.seed).choice(len(inp.train_x), min(len(test), len(inp.train_x)), replace=False)
        train_bpd = bits(inp, torch.tensor(inp.train_x[np.sort(pick)], device=model.device))
        out["nll_gap_bits_per_dim"] = float(bpd.mean() - train_bpd.mean())
        out["train_nll_bits_per_dim"] = float(train_bpd.mean())
    return out
