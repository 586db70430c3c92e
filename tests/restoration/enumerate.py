"""Brute-force posteriors on tiny image spaces: every image of D pixels with K levels, enumerated."""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor

from genmodels.data.base import DatasetInfo
from genmodels.restoration.evidence import block_sums, level_evidence
from genmodels.restoration.tasks import Observation

SHAPE = (1, 2, 2)
LEVELS = 3
INFO = DatasetInfo(name="tiny", kind="image", shape=SHAPE, levels=LEVELS, num_classes=None, value_range=(0.0, 1.0))


def all_levels(dims: int = 4, levels: int = LEVELS) -> Tensor:
    """Every image as level indices ``(K^D, D)``, long."""
    return torch.tensor(list(itertools.product(range(levels), repeat=dims)), dtype=torch.long)


def observation_log_lik(obs: Observation, k: Tensor, levels: int = LEVELS) -> Tensor:
    """``log p(y_n | x)`` of every observed image (rows) for every enumerated image ``k`` (columns)."""
    if obs.kind == "pool":
        sums = block_sums(obs, levels)  # (n, B)
        blocks = k.view(len(k), *SHAPE)
        f = obs.factor
        pooled = torch.nn.functional.avg_pool2d(blocks.double(), f).reshape(len(k), -1) * f * f  # level sums per block
        ok = (pooled[None].round().long() == sums[:, None]).all(-1)
        return torch.where(ok, 0.0, -math.inf).double()
    log_e = level_evidence(obs, levels)  # (n, D, K)
    dims = torch.arange(k.shape[1])
    return log_e[:, dims, k].sum(-1)


def posterior_mean(log_prior: Tensor, obs: Observation, levels: int = LEVELS) -> Tensor:
    """``E[x | y]`` ``(n, D)`` in [0, 1] by enumeration, for ``log_prior`` over :func:`all_levels`."""
    k = all_levels(log_prior.numel() and round(math.log(len(log_prior), levels)), levels)
    post = torch.softmax(log_prior[None] + observation_log_lik(obs, k, levels), 1)
    return post @ (k.double() / (levels - 1))


def tiny_images() -> Tensor:
    """Three clean 2x2 images on the 3 levels, ``(3, 1, 2, 2)``."""
    return torch.tensor([[0, 1, 2, 1], [2, 2, 0, 0], [1, 0, 1, 2]], dtype=torch.float32).view(3, *SHAPE) / (LEVELS - 1)
