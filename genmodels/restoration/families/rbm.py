"""Binomial RBM: conditional block Gibbs sampling, ``h ~ p(h | v)``, ``v ~ p(v | h, y)``.

Given ``h`` the visible units are independent binomials, ``log p(v_i = k | h) = k a_i +
log C(N, k) + const`` with ``a = b + W h``; the observation multiplies in each pixel's
evidence ``e_i(k)`` (:mod:`..evidence`: clamped pixels for masks, the clipped Gaussian for
noise), so ``p(v | h, y)`` is a product of categoricals drawn exactly. For pooling the
block sums are imposed exactly within each block given ``h`` (the convolution of
:mod:`..products`). After ``gibbs_burn_in`` sweeps the conditional means ``E[v | h, y]`` are
averaged over ``gibbs_sweeps`` sweeps and ``gibbs_chains`` chains (Rao-Blackwellised); the
last states of the chains are the completions. Approximate (Monte Carlo).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from genmodels.restoration.base import Restoration, Undefined, as_images, register_restorer
from genmodels.restoration.evidence import block_index, block_sums, level_evidence, level_values
from genmodels.restoration.products import block_tables, take


def _gumbel(log_p: Tensor, generator: torch.Generator) -> Tensor:
    u = torch.rand(log_p.shape, generator=generator, dtype=log_p.dtype, device=log_p.device)
    return torch.argmax(log_p - torch.log(-torch.log(u.clamp_min(1e-300))), -1)


def block_conditional(log_p: Tensor, blocks: Tensor, sums: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Per-row independent pixels ``log_p`` (R, D, K) conditioned on block sums ``sums`` (R, B):
    the exact conditional mean (R, D) in level units ``k`` and one exact draw (R, D)."""
    r, _, k = log_p.shape
    nb, m = blocks.shape
    p = torch.softmax(log_p[:, blocks], -1)  # (R, B, m, K)
    suffix, others = block_tables(p.reshape(r * nb, m, k))
    suffix, others = suffix.view(r, nb, m + 1, -1), others.view(r, nb, m, -1)
    kk = torch.arange(k, device=p.device)
    joint = p * take(others, (sums[:, :, None, None] - kk).expand(-1, -1, m, -1))
    q = joint / joint.sum(-1, keepdim=True).clamp_min(1e-300)
    mean = torch.zeros(r, log_p.shape[1], dtype=p.dtype, device=p.device)
    mean[:, blocks.reshape(-1)] = (q * kk).sum(-1).reshape(r, -1)
    sample = torch.zeros_like(mean, dtype=torch.long)
    remaining = sums.clone()
    for i in range(m):
        weight = p[:, :, i] * take(suffix[:, :, i + 1], remaining[..., None] - kk)
        level = _gumbel(weight.clamp_min(1e-300).log(), generator)
        remaining = remaining - level
        sample[:, blocks[:, i]] = level
    return mean, sample


@register_restorer("rbm")
def restore_rbm(model, obs, config, generator: torch.Generator, shared: dict | None = None) -> Restoration:  # noqa: ANN001
    if model.visible != "binomial":
        raise Undefined(f"rbm restoration is defined for binomial visible units (this one has {model.visible})")
    if obs.kind == "pool" and not config.gibbs_pool:
        raise Undefined("rbm super-resolution (block-sum Gibbs) is off for its cost; set restore.gibbs_pool: true to run it")
    levels, n_trials = int(model.info.levels), model.trials
    w, vb, hb = (t.detach().double() for t in (model.weight, model.vbias, model.hbias))
    kk = torch.arange(levels, dtype=torch.float64, device=w.device)
    log_binom = math.lgamma(n_trials + 1) - torch.lgamma(kk + 1) - torch.lgamma(n_trials - kk + 1)
    chains, n = config.gibbs_chains, len(obs)
    means, finals = [], []
    for s in range(0, n, config.batch_size):
        rows = min(config.batch_size, n - s)
        y = obs.y[s : s + rows]
        if obs.kind == "pool":
            blocks = block_index(obs.shape, obs.factor).to(w.device)
            sums = block_sums(type(obs)(obs.kind, y, obs.shape, obs.sigma, obs.factor, obs.mask), levels).repeat(chains, 1)
            v = torch.round(F.interpolate(y.double(), scale_factor=obs.factor, mode="nearest").reshape(rows, -1) * (levels - 1)).repeat(chains, 1)
            log_e = None
        else:
            log_e = level_evidence(type(obs)(obs.kind, y, obs.shape, obs.sigma, obs.factor, obs.mask), levels).repeat(chains, 1, 1)
            v = torch.argmax(log_e, -1).double()
        total = torch.zeros(rows * chains, w.shape[0], dtype=torch.float64, device=w.device)
        snaps: list[Tensor] = []
        per_chain = -(-config.completions // chains)
        spacing = max(1, config.gibbs_sweeps // per_chain)
        end = config.gibbs_burn_in + config.gibbs_sweeps
        for sweep in range(end):
            h = (torch.rand(len(v), w.shape[1], generator=generator, dtype=torch.float64) < torch.sigmoid(hb + v @ w)).double()
            log_p = (vb + h @ w.T)[..., None] * kk + log_binom  # (R, D, K)
            if log_e is None:
                cond_mean, level = block_conditional(log_p, blocks, sums, generator)
            else:
                post = log_p + log_e
                cond_mean = (torch.softmax(post, -1) * kk).sum(-1)
                level = _gumbel(post, generator)
            v = level.double()
            if sweep >= config.gibbs_burn_in:
                total += cond_mean
                if (end - 1 - sweep) % spacing == 0 and len(snaps) < per_chain:
                    snaps.append(v.view(chains, rows, -1).transpose(0, 1))
        means.append((total / config.gibbs_sweeps).view(chains, rows, -1).mean(0) / (levels - 1))
        finals.append(torch.cat(snaps, 1)[:, : config.completions] / (levels - 1))  # (rows, m, D): chains x spaced sweeps
    completions = torch.cat(finals)
    return Restoration(as_images(torch.cat(means), obs.shape), as_images(completions, obs.shape), False, "conditional block Gibbs, Rao-Blackwellised (Monte Carlo)")
