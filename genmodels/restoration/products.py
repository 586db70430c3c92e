"""Exact posteriors of mixtures of per-pixel categoricals: ``P(x) = sum_c w_c prod_d p_cd(x_d)``.

The independent baseline (one component), the diagonal GMM and the diagonal-kernel KDE on
the levels (each component's per-pixel cell masses) are such mixtures. With per-pixel
evidence ``e_d(k) = p(y_d | x_d = k)`` (noise, mask; :mod:`.evidence`) Bayes' rule stays a
mixture of products:

    P(x | y) = sum_c r_c prod_d q_cd(x_d),   q_cd(k) = p_cd(k) e_d(k) / Z_cd,
    r_c = w_c prod_d Z_cd / sum_c' (...),   Z_cd = sum_k p_cd(k) e_d(k),

so the posterior mean ``sum_c r_c sum_k q_cd(k) k/(K-1)`` and exact draws are closed form.
Average pooling observes the sum ``S`` of the levels in each ``f x f`` block; within a
component the block's pixels are independent, so the sum's law is a convolution and

    P(x_i = k | S, c) = p_ci(k) R_ci(S - k) / P_c(S),

``R_ci`` the law of the sum of the block's other pixels (prefix and suffix convolutions),
``P_c(S)`` the whole block's: exact, with no enumeration of the ``K^(f^2)`` block states.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from genmodels.restoration.base import Undefined
from genmodels.restoration.evidence import block_index, block_sums, level_evidence, level_values
from genmodels.restoration.tasks import Observation

_CHUNK = 1 << 23  # elements of the (images x components x pixels x levels) tensors at once
_MAX_TABLE = 1 << 27  # elements of the block-sum tables (components x blocks x pixels x sums)


@dataclass(frozen=True)
class ProductMixture:
    """``log_w`` (C,) mixture log-weights; ``log_p`` (C, D, K) per-pixel level log-probabilities."""

    log_w: Tensor
    log_p: Tensor

    @property
    def levels(self) -> int:
        return self.log_p.shape[2]


def _draw(log_probs: Tensor, generator: torch.Generator) -> Tensor:
    """One index per row of the last dim of unnormalised ``log_probs`` (Gumbel-max; seeded)."""
    u = torch.rand(log_probs.shape, generator=generator, dtype=torch.float64, device=log_probs.device)
    return torch.argmax(log_probs - torch.log(-torch.log(u.clamp_min(1e-300))), dim=-1)


def posterior(pm: ProductMixture, obs: Observation, draws: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Posterior mean ``(n, D)`` in [0, 1] and ``draws`` exact posterior draws ``(n, draws, D)``."""
    if obs.kind == "pool":
        return _pool_posterior(pm, obs, draws, generator)
    log_e = level_evidence(obs, pm.levels).to(pm.log_p.device)
    c, d, k = pm.log_p.shape
    vals = level_values(k, pm.log_p.device)
    p_shift = pm.log_p.amax(-1, keepdim=True)
    p = torch.exp(pm.log_p - p_shift).permute(1, 2, 0)  # (D, K, C), max 1 per (c, d)
    step = max(1, _CHUNK // (c * d))
    means, samples = [], []
    for s in range(0, len(obs), step):
        le = log_e[s : s + step]
        e_shift = le.amax(-1, keepdim=True)
        e = torch.exp(le - e_shift).permute(1, 0, 2)  # (D, s, K)
        z = torch.bmm(e, p)  # (D, s, C): sum_k p e, up to the shifts
        first = torch.bmm(e * vals, p)
        log_z = z.log().permute(1, 2, 0) + e_shift.permute(0, 2, 1) + p_shift[None, :, :, 0]  # (s, C, D)
        if obs.kind == "mask":  # one-hot evidence: log Z is the observed level's log-probability, exactly
            observed = obs.mask.reshape(-1).to(le.device)
            k_obs = torch.argmax(le, -1)  # (s, D)
            exact = pm.log_p[:, torch.arange(d, device=le.device)[None], k_obs].permute(1, 0, 2)  # (s, C, D)
            log_z = torch.where(observed, exact, torch.zeros_like(exact))
        resp = torch.softmax(pm.log_w + log_z.sum(-1), dim=1)  # (s, C)
        cond = (first / z.clamp_min(1e-300)).permute(1, 2, 0)  # (s, C, D): E[x_d | c, y]
        means.append(torch.einsum("sc,scd->sd", resp, cond))
        comp = _draw(resp.clamp_min(1e-300).log()[:, None, :].expand(-1, draws, -1), generator)  # (s, draws)
        picked = pm.log_p[comp] + le[:, None]  # (s, draws, D, K)
        samples.append(vals[_draw(picked, generator)])
    return torch.cat(means), torch.cat(samples)


def convolve(a: Tensor, b: Tensor) -> Tensor:
    """Full discrete convolutions of matching rows: ``(G, La)``, ``(G, Lb)`` -> ``(G, La + Lb - 1)``."""
    g, la = a.shape
    padded = F.pad(b, (la - 1, la - 1)).unsqueeze(0)
    return F.conv1d(padded, a.flip(-1).unsqueeze(1), groups=g).squeeze(0)


def block_tables(p: Tensor) -> tuple[Tensor, Tensor]:
    """Sum laws of a block's pixels, ``p`` (G, m, K) probabilities: ``suffix`` (G, m+1, L), the law of
    the sum of pixels ``i..m-1`` (row m: the empty sum), and ``others`` (G, m, L), the law of the sum
    of every pixel but ``i``; ``L = m (K - 1) + 1``."""
    g, m, k = p.shape
    length = m * (k - 1) + 1
    prefix = [torch.ones(g, 1, dtype=p.dtype, device=p.device)]
    for i in range(m):
        prefix.append(convolve(p[:, i], prefix[-1]))
    suffix = [torch.ones(g, 1, dtype=p.dtype, device=p.device)]
    for i in reversed(range(m)):
        suffix.append(convolve(p[:, i], suffix[-1]))
    suffix = suffix[::-1]  # suffix[i]: pixels i..m-1
    pad = lambda t: F.pad(t, (0, length - t.shape[1]))  # noqa: E731
    others = torch.stack([pad(convolve(prefix[i], suffix[i + 1])) for i in range(m)], 1)
    return torch.stack([pad(t) for t in suffix], 1), others


def take(table: Tensor, index: Tensor) -> Tensor:
    """``table[..., index]`` with out-of-range indices giving probability 0."""
    ok = (index >= 0) & (index < table.shape[-1])
    got = torch.gather(table, -1, index.clamp(0, table.shape[-1] - 1))
    return torch.where(ok, got, torch.zeros_like(got))


def _pool_posterior(pm: ProductMixture, obs: Observation, draws: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    c, d, k = pm.log_p.shape
    blocks = block_index(obs.shape, obs.factor).to(pm.log_p.device)  # (B, m)
    nb, m = blocks.shape
    if c * nb * (m + 1) * (m * (k - 1) + 1) > _MAX_TABLE:
        raise Undefined(f"the exact block-sum tables of {c} components x {nb} blocks of {m} pixels x {k} levels are too large")
    p = pm.log_p[:, blocks].exp()  # (C, B, m, K)
    suffix, others = block_tables(p.reshape(c * nb, m, k))
    suffix, others = suffix.view(c, nb, m + 1, -1), others.view(c, nb, m, -1)
    sums = block_sums(obs, k).to(p.device)  # (n, B)
    vals = level_values(k, p.device)
    kk = torch.arange(k, device=p.device)
    step = max(1, _CHUNK // (c * nb * m * k))
    out_mean = torch.zeros(len(obs), d, dtype=torch.float64, device=p.device)
    out_draw = torch.zeros(len(obs), draws, d, dtype=torch.float64, device=p.device)
    for s in range(0, len(obs), step):
        S = sums[s : s + step]
        ns = len(S)
        whole = take(suffix[None, :, :, 0].expand(ns, -1, -1, -1), S[:, None, :, None].expand(-1, c, -1, 1))[..., 0]  # (s, C, B)
        log_marg = pm.log_w + whole.log().sum(-1)
        if torch.isinf(log_marg).all(1).any():
            raise Undefined("an observed block sum has probability 0 under every component")
        resp = torch.softmax(log_marg, 1)  # (s, C)
        rest = take(others[None].expand(ns, -1, -1, -1, -1), (S[:, None, :, None, None] - kk).expand(-1, c, -1, m, -1))  # (s, C, B, m, K)
        joint = p[None] * rest
        q = joint / joint.sum(-1, keepdim=True).clamp_min(1e-300)
        mean_blocks = torch.einsum("sc,scbmk,k->sbm", resp, q, vals)
        out_mean[s : s + ns, blocks.reshape(-1)] = mean_blocks.reshape(ns, -1)
        comp = _draw(resp.clamp_min(1e-300).log()[:, None, :].expand(-1, draws, -1), generator)  # (s, draws)
        remaining = S[:, None, :].expand(-1, draws, -1).clone()  # (s, draws, B)
        pc, sc = p[comp], suffix[comp]  # (s, draws, B, m, K), (s, draws, B, m+1, L)
        for i in range(m):
            weight = pc[:, :, :, i] * take(sc[:, :, :, i + 1], remaining[..., None] - kk)
            level = _draw(weight.clamp_min(1e-300).log(), generator)
            remaining = remaining - level
            out_draw[s : s + ns, :, blocks[:, i]] = vals[level]
    return out_mean, out_draw


def pixel_table_mixture(log_w: Tensor, log_p: Tensor) -> ProductMixture:
    """A :class:`ProductMixture` from unnormalised per-pixel tables, each row renormalised."""
    return ProductMixture(log_w - torch.logsumexp(log_w, 0), log_p - torch.logsumexp(log_p, -1, keepdim=True))


def log_uniform(c: int) -> Tensor:
    """Equal log-weights of ``c`` components."""
    return torch.full((c,), -math.log(c), dtype=torch.float64)
