"""Divergence: the training loop's check that no NaN or inf reaches the weights.

The loop (:mod:`genmodels.training.loop`) checks once per epoch: a :class:`Snapshot` of the
state at the epoch's start, the step losses summed on the device, and one read at the end of
those sums and of :func:`state_sums`. A non-finite read restores the snapshot and replays the
epoch with :func:`finite_or_raise` before every optimizer step, which raises
:class:`TrainingDiverged` at the first non-finite step, naming it.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch
from torch import Tensor

from genmodels.errors import GenmodelsError


class TrainingDiverged(GenmodelsError):
    """A loss or its gradient became NaN or infinite."""


class Snapshot:
    """The training state at an epoch's start, in buffers reused from epoch to epoch."""

    def __init__(self) -> None:
        self.live: list[Tensor] = []  # the state's tensors (weights, buffers, optimizer state), updated in place by training
        self.copies: list[Tensor] = []
        self.entries: list[tuple[str, Any, str]] = []  # (optimizer, parameter, key) of each optimizer-state tensor
        self.rng = torch.empty(0)
        self.device_rng: Tensor | None = None

    def take(self, model: torch.nn.Module, optimizers: dict[str, torch.optim.Optimizer]) -> None:
        live = list(model.state_dict().values())
        entries = []
        for name, o in optimizers.items():
            for p, s in o.state.items():
                for key, t in s.items():
                    if isinstance(t, Tensor):
                        live.append(t)
                        entries.append((name, p, key))
        if len(live) == len(self.copies) and all(a.shape == b.shape and a.dtype == b.dtype for a, b in zip(live, self.copies)):
            torch._foreach_copy_(self.copies, live)  # one copy into the kept buffers
        else:  # the first epoch, or the optimizers' state has just been created
            self.copies = [t.detach().clone() for t in live]
        self.live, self.entries = live, entries
        self.rng = torch.get_rng_state()
        device = live[0].device if live else torch.device("cpu")
        self.device_rng = torch.cuda.get_rng_state(device) if device.type == "cuda" else None

    def restore(self, optimizers: dict[str, torch.optim.Optimizer]) -> None:
        kept = {(name, id(p), key) for name, p, key in self.entries}
        for name, o in optimizers.items():  # state created during the epoch goes (the optimizer re-creates it lazily)
            for p in list(o.state):
                for key in [k for k, t in o.state[p].items() if isinstance(t, Tensor) and (name, id(p), k) not in kept]:
                    del o.state[p][key]
                if not o.state[p]:
                    del o.state[p]
        with torch.no_grad():
            torch._foreach_copy_(self.live, self.copies)
        torch.set_rng_state(self.rng)
        if self.device_rng is not None:
            torch.cuda.set_rng_state(self.device_rng, self.live[0].device)


def state_sums(model: torch.nn.Module, optimizers: dict[str, torch.optim.Optimizer]) -> list[Tensor]:
    """The sum of every floating-point tensor an optimizer step writes: weights, buffers, optimizer moments."""
    tensors = [t for t in model.state_dict().values() if t.is_floating_point()]
    for o in optimizers.values():
        tensors += [t for s in o.state.values() for t in s.values() if isinstance(t, Tensor) and t.is_floating_point()]
    return [t.sum() for t in tensors]


def clip(params: list[torch.nn.Parameter], max_norm: float, norms: list[Tensor] | None = None) -> None:
    """``clip_grad_norm_`` as computed here (per-tensor norms, then their norm; ``norms`` when already
    computed by :func:`finite_or_raise`): the checked and the unchecked pass clip bit for bit alike."""
    if norms is None:
        grads = [p.grad for p in params if p.grad is not None]
        norms = list(torch._foreach_norm(grads)) if grads else []
    if norms:
        torch.nn.utils.clip_grads_with_norm_(params, max_norm, total_norm(norms))


def finite_or_raise(
    job: Any, epoch: int, step: int, n_steps: int, group: str, loss: Tensor, params: list[torch.nn.Parameter],
) -> tuple[float, list[Tensor]]:  # fmt: skip
    """The step's loss (a float) and per-tensor gradient L2 norms (tensors); a NaN or inf loss or total
    gradient norm stops the run, before the optimizer step, with :class:`TrainingDiverged`.

    One pass over the gradients (``torch._foreach_norm``, what ``clip_grad_norm_`` does first) and
    one device sync, which reads the loss and the per-tensor norms together. The total norm
    ``sqrt(sum n_i^2)`` is checked on the host in float64 against half the largest value of the
    gradients' dtype: below it the norm computed in that dtype cannot overflow, so the step is
    finite; at or above it (or with a NaN/inf anywhere) the total is computed exactly as
    ``clip_grad_norm_`` does and decides.
    """
    grads = [p.grad for p in params if p.grad is not None]
    norms = list(torch._foreach_norm(grads)) if grads else []
    read = torch.stack([loss.detach().reshape(()), *norms]).tolist()
    value = read[0]
    if math.isfinite(value) and sum(n * n for n in read[1:]) < safe_square_sum(frozenset(g.dtype for g in grads)):
        return value, norms
    norm_value = total_norm(norms).item() if norms else 0.0
    if math.isfinite(value) and math.isfinite(norm_value):
        return value, norms
    what = f"loss '{group}' is {value}" if not math.isfinite(value) else f"the gradient norm of loss '{group}' is {norm_value} (loss {value:.6g})"
    where = f"epoch {epoch}, step {step + 1} of {n_steps}"
    raise TrainingDiverged(f"{job.name} diverged at {where}: {what}; lower fit.lr or set fit.grad_clip")


def total_norm(norms: list[Tensor]) -> Tensor:
    """The total L2 norm of the gradients from their per-tensor norms, as ``clip_grad_norm_`` computes it."""
    return torch.linalg.vector_norm(torch.stack(norms))


@functools.cache
def safe_square_sum(dtypes: frozenset[torch.dtype]) -> float:
    """A bound on ``sum n_i^2`` below which the total norm in these dtypes stays finite: half the
    smallest largest-finite value (the rounding of float sums is far inside that factor of 2)."""
    return min((torch.finfo(d).max for d in dtypes), default=math.inf) / 2
