import math

import torch

from genmodels.restoration.tree import draw, marginals
from tests.restoration.enumerate import all_levels


def _tree() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """4 nodes, 3 states: 0 -> 1, 0 -> 2, 2 -> 3."""
    g = torch.Generator().manual_seed(0)
    cpt = torch.log_softmax(torch.randn(4, 3, 3, generator=g, dtype=torch.float64), -1)
    cpt[0] = cpt[0, 0].expand(3, 3)
    return cpt, torch.tensor([-1, 0, 0, 2]), torch.tensor([0, 1, 2, 3])


def test_marginals_and_evidence_match_enumeration() -> None:
    cpt, parents, order = _tree()
    k = all_levels()
    log_joint = sum(cpt[i, k[:, max(int(p), 0)], k[:, i]] for i, p in enumerate(parents.tolist()))
    log_e = torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    log_e[1, 3] = torch.tensor([0.0, -math.inf, -math.inf])  # a clamped node
    out, log_py = marginals(cpt, parents, order, log_e)
    for n in range(2):
        w = log_joint + log_e[n, torch.arange(4), k].sum(-1)
        assert math.isclose(float(log_py[n]), float(torch.logsumexp(w, 0)), rel_tol=1e-10)
        post = torch.softmax(w, 0)
        ref = torch.stack([torch.stack([post[k[:, i] == a].sum() for a in range(3)]) for i in range(4)])
        assert torch.allclose(out[n].exp(), ref, atol=1e-12)


def test_draws_are_exact_joint_posterior_draws() -> None:
    cpt, parents, order = _tree()
    log_e = torch.randn(1, 4, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    states = draw(cpt, parents, order, log_e, 40000, torch.Generator().manual_seed(0))[0]
    out, _ = marginals(cpt, parents, order, log_e)
    freq = torch.stack([torch.bincount(states[:, i], minlength=3) for i in range(4)]).double() / len(states)
    assert torch.allclose(freq, out[0].exp(), atol=0.015)
    pair = ((states[:, 2] == 0) & (states[:, 3] == 0)).double().mean()
    k = all_levels()
    log_joint = sum(cpt[i, k[:, max(int(p), 0)], k[:, i]] for i, p in enumerate(parents.tolist())) + log_e[0, torch.arange(4), k].sum(-1)
    assert abs(float(pair) - float(torch.softmax(log_joint, 0)[(k[:, 2] == 0) & (k[:, 3] == 0)].sum())) < 0.015
