"""Chow-Liu tree network: exact sum-product (:mod:`..tree`) with per-pixel evidence.

A state groups adjacent grey levels, uniform within it; so a state's evidence is the mean of
its levels' ``e(k)``, and given the state a level's posterior is ``∝ e(k)``. Denoising and
inpainting are exact. Average pooling is undefined: the block sum couples the block's pixels
across the tree (they are not conditionally independent given the rest), so neither the
per-node evidence of sum-product nor a product-of-pixels convolution applies.
"""

from __future__ import annotations

import math

import torch

from genmodels.restoration.base import Restoration, Undefined, as_images, register_restorer
from genmodels.restoration.evidence import level_evidence, level_values
from genmodels.restoration.tree import draw, marginals


@register_restorer("bayesnet")
def restore_bayesnet(model, obs, config, generator: torch.Generator, shared: dict | None = None) -> Restoration:  # noqa: ANN001
    if not model.discrete:
        raise Undefined("bayesnet restoration needs image data on discrete levels")
    if obs.kind == "pool":
        raise Undefined("the pooled block sum couples the block's pixels across the tree; exact tree inference takes per-pixel evidence only")
    model._check_fitted()
    levels = int(model.info.levels)
    state = model.level_state  # (K,) level -> state
    b = model.n_states
    log_e = level_evidence(obs, levels).to(model.device)  # (n, D, K)
    member = torch.nn.functional.one_hot(state, b).T.bool()  # (B, K)
    count = member.sum(1).double()
    masked = torch.where(member[None, None], log_e[:, :, None, :], -math.inf)  # (n, D, B, K)
    log_es = torch.logsumexp(masked, -1) - count.log()
    log_states, _ = marginals(model.log_cpt, model.parents, model.order, log_es)  # (n, D, B)
    within = masked - torch.logsumexp(masked, -1, keepdim=True)  # log P(level | state, y)
    within = torch.nan_to_num(within, nan=-math.inf)
    log_level = torch.logsumexp(log_states[..., None] + within, 2)  # (n, D, K)
    vals = level_values(levels, log_e.device)
    mean = (log_level.exp() * vals).sum(-1)
    states = draw(model.log_cpt, model.parents, model.order, log_es, config.completions, generator)  # (n, m, D)
    pick = within[torch.arange(len(log_e))[:, None, None], torch.arange(model.dim)[None, None], states]  # (n, m, D, K)
    u = torch.rand(pick.shape, generator=generator, dtype=torch.float64)
    level = torch.argmax(pick - torch.log(-torch.log(u.clamp_min(1e-300))), -1)
    return Restoration(as_images(mean, obs.shape), as_images(vals[level], obs.shape), True, "exact sum-product on the tree")
