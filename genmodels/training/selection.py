"""Model selection on the validation split: the validation NLL, the best epoch, early stopping.

The trainer validates every ``fit.val_every`` epochs (and at the last one) by the mean
discrete NLL in bits/dim of the validation split (:meth:`GenerativeModel.discrete_log_prob`,
the estimator the evaluation reports on the test split), with the same seeded noise at
every validation, so epochs are compared on common random numbers (and a resumed run
recomputes exactly the same figures). Everything about the best epoch so far is derived
from the history, so it survives a resume without state of its own beyond its weights.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor

from genmodels.errors import ConfigError
from genmodels.models.core.base import GenerativeModel
from genmodels.models.core.registry import model_class
from genmodels.training.config import FitConfig

VAL_KEY = "val_nll_bits_per_dim"  # history / MLflow key of the validation NLL
VAL_BATCH = 256  # validation images per model call
_VAL_STREAM = 0x5641  # spawn key that separates the validation noise from the training streams
#: Likelihood kinds that ``select: auto`` validates on (cheap and low-variance; the RBM's AIS is neither).
AUTO_KINDS = ("exact", "bound")


def resolve_select(name: str, family: str, fit: FitConfig, has_val: bool) -> Literal["last", "best_val"]:
    """``fit.select`` for this family: ``auto`` resolved; best_val where it cannot work is an error."""
    cls = model_class(family)
    if fit.select == "best_val":
        if cls.direct_fit:
            raise ConfigError(f"{name}.fit.select: best_val needs epochs to choose from, but family {family!r} is fitted in closed form (use auto or last)")
        if cls.likelihood_kind is None:
            raise ConfigError(f"{name}.fit.select: best_val needs a likelihood, but family {family!r} has none (use auto or last)")
        if not has_val:
            raise ConfigError(f"{name}.fit.select: best_val needs the validation split, and none was given")
        return "best_val"
    if fit.select == "auto" and has_val and not cls.direct_fit and cls.likelihood_kind in AUTO_KINDS:
        return "best_val"
    return "last"


@dataclass(frozen=True)
class Best:
    """The validated epoch with the lowest validation NLL so far (ties: the earliest)."""

    epoch: int
    value: float
    since: int  # validations after it without improvement


def best_so_far(history: Sequence[dict[str, float]]) -> Best | None:
    """The best validated epoch of ``history``, or None before the first validation."""
    best: Best | None = None
    for row in history:
        if VAL_KEY not in row:
            continue
        value = row[VAL_KEY] if math.isfinite(row[VAL_KEY]) else math.inf
        if best is None or value < best.value:
            best = Best(int(row["epoch"]), value, 0)
        else:
            best = Best(best.epoch, best.value, best.since + 1)
    return best


def validates(epoch: int, fit: FitConfig) -> bool:
    """Whether ``epoch`` is validated: every ``val_every`` epochs and always the last one."""
    return (epoch + 1) % fit.val_every == 0 or epoch == fit.epochs - 1


def stops(history: Sequence[dict[str, float]], fit: FitConfig) -> bool:
    """Early stopping: ``patience`` validations in a row did not improve on the best."""
    best = best_so_far(history)
    return fit.patience is not None and best is not None and best.since >= fit.patience


def val_generator(seed: int, rank: int, device: torch.device) -> torch.Generator:
    """The validation noise of ``rank``: the same at every validation of a run."""
    state = np.random.SeedSequence(seed, spawn_key=(_VAL_STREAM, rank)).generate_state(1)[0]
    return torch.Generator(device=device).manual_seed(int(state))


@torch.no_grad()
def validation_nll(model: GenerativeModel, x: Tensor, generator: torch.Generator, samples: int, rank: int = 0, world_size: int = 1) -> float:
    """Mean discrete NLL in bits/dim of ``x`` (data space); ranks share the rows and all-reduce."""
    model.eval()
    mine = x[rank::world_size]
    total = torch.zeros(2, dtype=torch.float64, device=model.device)
    for start in range(0, len(mine), VAL_BATCH):
        xb = mine[start : start + VAL_BATCH].to(model.device)
        total[0] -= model.discrete_log_prob(xb, generator, samples).double().sum()
        total[1] += len(xb)
    if world_size > 1:
        dist.all_reduce(total)
    dims = math.prod(model.data_shape)
    return float(total[0] / (total[1] * dims * math.log(2.0)))
