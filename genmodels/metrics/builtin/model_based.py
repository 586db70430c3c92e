"""Metrics that need the trained model: perceptual path length and the test likelihood."""

from __future__ import annotations

import math

import numpy as np
import torch

from genmodels.metrics.ppl import normalized_activation_distance, perceptual_path_length, squared_euclidean_distance
from genmodels.metrics.registry import NEEDS, EvalInputs, MetricKey, Undefined, register_metric
from genmodels.models.core.dequantize import bits_per_dim, dequantize

ORDER = 30  # where these keys stand among the built-ins' (see genmodels.metrics.builtin)


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


KIND_WORDS = {"exact": "exact", "bound": "upper bound on the NLL", "estimate": "estimate"}


def discrete_bits(inp: EvalInputs, x: torch.Tensor) -> torch.Tensor:
    """Per-sample discrete NLL in bits/dim of data-space ``x`` on the dataset's levels (seeded)."""
    model, info = inp.model, inp.info
    fn = lambda b: model.discrete_log_prob(b, generator(inp, 2), inp.cfg.nll_dequant_samples)  # noqa: E731
    ll = batched(fn, x, inp.cfg.batch_size).double()
    return -ll / (math.prod(info.shape) * math.log(2.0))


def dequant_bits(inp: EvalInputs, x: torch.Tensor) -> torch.Tensor:
    """Per-sample bits/dim of the continuous density at one uniform dequantization of ``x``."""
    model, info = inp.model, inp.info
    v = dequantize(x, info.levels, generator(inp, 1))
    ll = batched(lambda b: model.log_likelihood(b, generator(inp, 2)), v, inp.cfg.batch_size).double()
    return bits_per_dim(ll, math.prod(info.shape), info.levels)


def sandwich_bits(inp: EvalInputs, x: torch.Tensor) -> tuple[float, float] | None:
    """Mean bits/dim of the model's two-sided bound on ``log P(k)`` (low NLL, high NLL), or None."""
    model, dims = inp.model, math.prod(inp.info.shape)
    parts = [model.discrete_log_prob_bounds(x[s : s + inp.cfg.batch_size], generator(inp, 3)) for s in range(0, len(x), inp.cfg.batch_size)]
    if any(p is None for p in parts):
        return None
    lower = torch.cat([p[0] for p in parts]).double()  # lower bound on log P: the high NLL
    upper = torch.cat([p[1] for p in parts]).double()
    scale = -1.0 / (dims * math.log(2.0))
    return float(upper.mean() * scale), float(lower.mean() * scale)


UNIFORM_FLAG = "nll_worse_than_uniform"  # 1.0: nll_bits_per_dim > log2 K; 0.0: not; None: continuous data


def worse_than_uniform(bits_per_dim: float, levels: int | None) -> bool | None:
    """Whether a discrete NLL exceeds ``log2 K`` bits/dim, the uniform distribution over the K
    levels that any model can match without training: such a figure is a failed fit or a
    failed likelihood estimate, never a result. None for continuous data (no K)."""
    if levels is None:
        return None
    return bool(bits_per_dim > math.log2(levels))


@register_metric(
    "nll",
    [MetricKey("nll_bits_per_dim", "lower", "test negative log-likelihood in bits per dimension of the data on its K levels (discrete: −log2 P(k) / D; log2 K is the uniform model); exact for categorical models, differences of CDFs for Gaussian decoders and mixtures, importance sampling over the dequantization noise otherwise; its kind — exact, upper bound or estimate — is in notes, a value worse than uniform is flagged there. Continuous data: −log2 p(x) / D"),
     *(MetricKey(f"nll_bits_per_dim_{side}", None, f"{word} of a sandwich on nll_bits_per_dim where the estimate's bias is bounded from both sides (RBM: AIS below, RAISE above; Burda et al. 2015)", column=False)
       for side, word in (("low", "stochastic lower bound"), ("high", "stochastic upper bound"))),
     MetricKey("nll_gap_bits_per_dim", None, "test minus train NLL (bits/dim) on a seeded training subset of the test set's size: ≈ 0 generalises, large positive = memorises")],
    needs={"model"},
)  # fmt: skip
@torch.no_grad()
def nll(inp: EvalInputs) -> dict:
    model, info = inp.model, inp.info
    kind = model.discrete_likelihood_kind()
    if kind is None:
        raise Undefined(f"{type(model).__name__} has no tractable likelihood")
    test = test_tensor(inp)
    bpd = discrete_bits(inp, test)
    value = float(bpd.mean())
    note = f"{kind} ({KIND_WORDS[kind]})"
    worse = worse_than_uniform(value, info.levels)
    if worse:
        note += f"; WORSE THAN UNIFORM: {value:.3f} > log2 K = {math.log2(info.levels):.3f} bits/dim (a failed fit or a failed estimate)"
    out = {
        "nll_bits_per_dim": value,
        "nll_bits_per_dim_stderr": float(bpd.std() / math.sqrt(len(bpd))),
        UNIFORM_FLAG: None if worse is None else float(worse),
        "notes": {"nll_bits_per_dim": note},
    }
    if worse is None:
        out["notes"][UNIFORM_FLAG] = "continuous data: no uniform model over levels to compare with"
    sandwich = sandwich_bits(inp, test)
    if sandwich is None:
        out["nll_bits_per_dim_low"] = out["nll_bits_per_dim_high"] = None
        out["notes"]["nll_bits_per_dim_low"] = out["notes"]["nll_bits_per_dim_high"] = f"{type(model).__name__} has no two-sided bound"
    else:
        out["nll_bits_per_dim_low"], out["nll_bits_per_dim_high"] = sandwich
    if info.levels is not None:  # the continuous figure under uniform dequantization, for comparison with papers
        out["nll_dequant_bits_per_dim"] = float(dequant_bits(inp, test).mean())
    if inp.train_x is None:
        out["nll_gap_bits_per_dim"] = None
        out["notes"]["nll_gap_bits_per_dim"] = NEEDS["train"]
    else:
        pick = np.random.default_rng(inp.seed).choice(len(inp.train_x), min(len(test), len(inp.train_x)), replace=False)
        train_bpd = discrete_bits(inp, torch.tensor(inp.train_x[np.sort(pick)], device=model.device))
        out["nll_gap_bits_per_dim"] = float(value - train_bpd.mean())
        out["train_nll_bits_per_dim"] = float(train_bpd.mean())
    return out
