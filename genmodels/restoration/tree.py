"""Sum-product on a tree-shaped discrete network with per-node evidence (Pearl 1988).

``P(x) = prod_i P(x_i | x_pa(i))`` over states ``0..B-1``; the evidence multiplies in a
factor ``e_i(x_i)`` per node. Upward messages from the leaves,

    mu_i(b) = sum_a P(a | b) e_i(a) prod_{c child of i} mu_c(a),

give the root's belief; downward, each node's marginal given all the evidence is
``P(x_i = a | y) ∝ e_i(a) prod_c mu_c(a) sum_b P(a | b) P(x_pa = b | y) / mu_i(b)``, and an exact
joint draw is ancestral with the same factors. Everything is in log space, batched over images.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _gumbel_argmax(log_p: Tensor, generator: torch.Generator) -> Tensor:
    u = torch.rand(log_p.shape, generator=generator, dtype=torch.float64, device=log_p.device)
    return torch.argmax(log_p - torch.log(-torch.log(u.clamp_min(1e-300))), dim=-1)


def upward(log_cpt: Tensor, parents: Tensor, order: Tensor, log_e: Tensor) -> tuple[Tensor, Tensor]:
    """``(inside, up)``: ``inside[n, i, a] = log e_i(a) + sum_c up[n, c, a]`` and each node's message
    ``up[n, i, b]`` to its parent; ``log_cpt`` (D, B, B) [i, parent state, state] (the root's rows
    hold its marginal), ``order`` breadth-first from the root, ``log_e`` (n, D, B)."""
    inside = log_e.clone()
    up = torch.zeros_like(log_e)
    for i, p in zip(reversed(order.tolist()), reversed(parents[order].tolist())):
        if p < 0:
            continue
        up[:, i] = torch.logsumexp(log_cpt[i][None] + inside[:, i, None, :], dim=-1)  # over the child's state
        inside[:, p] += up[:, i]
    return inside, up


def marginals(log_cpt: Tensor, parents: Tensor, order: Tensor, log_e: Tensor) -> tuple[Tensor, Tensor]:
    """``(log P(x_i | y) (n, D, B), log P(y) (n,))`` for every node."""
    inside, up = upward(log_cpt, parents, order, log_e)
    out = torch.empty_like(log_e)
    root = int(order[0])
    joint = log_cpt[root, 0][None] + inside[:, root]
    log_py = torch.logsumexp(joint, -1)
    out[:, root] = joint - log_py[:, None]
    for i, p in zip(order.tolist()[1:], parents[order].tolist()[1:]):
        parent_out = out[:, p] - up[:, i]  # the parent's belief without this child's message
        log = torch.logsumexp(parent_out[:, :, None] + log_cpt[i][None], dim=1) + inside[:, i]
        out[:, i] = log - torch.logsumexp(log, -1, keepdim=True)
    return out, log_py


def draw(log_cpt: Tensor, parents: Tensor, order: Tensor, log_e: Tensor, draws: int, generator: torch.Generator) -> Tensor:
    """``draws`` exact joint draws ``(n, draws, D)`` of the states given the evidence."""
    inside, _ = upward(log_cpt, parents, order, log_e)
    n, d, _ = log_e.shape
    states = torch.zeros(n, draws, d, dtype=torch.long, device=log_e.device)
    for i, p in zip(order.tolist(), parents[order].tolist()):
        if p < 0:
            log = (log_cpt[i, 0][None] + inside[:, i])[:, None].expand(-1, draws, -1)
        else:
            log = log_cpt[i][states[:, :, p]] + inside[:, i, None, :]
        states[:, :, i] = _gumbel_argmax(log, generator)
    return states
