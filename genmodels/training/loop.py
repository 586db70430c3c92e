"""The per-worker training loop: one loop for every family and every backend.

The backend (in-process or a Ray Train worker) supplies a :class:`WorkerContext` that
knows the rank, restores the latest checkpoint and persists new ones. Data parallelism is
plain gradient averaging: after each backward pass the gradients of the stepped group are
all-reduced as one flat buffer, which is what DDP does, but it also works for families
that step several optimizers per batch (GANs) where DDP's forward hook does not fit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.distributed as dist

from genmodels.errors import GenmodelsError
from genmodels.models.core.base import GenerativeModel
from genmodels.models.core.registry import build_model
from genmodels.training import checkpoint as ckpt
from genmodels.training.config import FitConfig


class TrainingDiverged(GenmodelsError):
    """A loss became NaN or infinite."""


@dataclass(frozen=True)
class TrainJob:
    """Everything a worker needs to train one model (picklable, JSON-like fields)."""

    name: str
    family: str
    model_config: dict[str, Any]
    fit: dict[str, Any]
    info: dict[str, Any]
    seed: int
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Restored:
    model_state: dict[str, torch.Tensor]
    trainer_state: dict[str, Any]


def restore_dir(path: Path, device: torch.device) -> Restored:
    """Read a checkpoint folder written by the loop (model + trainer state)."""
    state = torch.load(path / ckpt.MODEL_FILE, map_location=device, weights_only=True)
    return Restored(model_state=state, trainer_state=ckpt.read_trainer_state(path))


class WorkerContext(Protocol):
    rank: int
    world_size: int
    device: torch.device

    def restore(self) -> Restored | None: ...

    def save(self, metrics: dict[str, float], write: Callable[[Path], None]) -> None: ...


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """Seeds derived per (epoch, rank): resuming at epoch e replays exactly what e would have done."""
    return int(np.random.SeedSequence([seed, epoch, rank]).generate_state(1)[0])


def sync_gradients(params: list[torch.nn.Parameter], world_size: int) -> None:
    """Average gradients over ranks with one all-reduce of a flat buffer."""
    grads = [p.grad for p in params if p.grad is not None]
    if world_size == 1 or not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world_size
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def build_optimizers(model: GenerativeModel, fit: FitConfig) -> tuple[dict[str, torch.optim.Optimizer], dict[str, Any]]:
    optimizers: dict[str, torch.optim.Optimizer] = {}
    schedulers: dict[str, Any] = {}
    if model.direct_fit:
        return optimizers, schedulers
    for name, params in model.optimizer_groups().items():
        lr = fit.group_lr.get(name, fit.lr)
        opt = torch.optim.AdamW(list(params), lr=lr, betas=fit.betas, weight_decay=fit.weight_decay)
        optimizers[name] = opt
        if fit.schedule == "cosine":
            schedulers[name] = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=fit.epochs, eta_min=lr * 0.05)
    unknown = set(fit.group_lr) - set(optimizers)
    if unknown:
        raise GenmodelsError(f"fit.group_lr: unknown optimizer group(s) {sorted(unknown)} (groups: {sorted(optimizers)})")
    return optimizers, schedulers


def train_worker(job: TrainJob, x: np.ndarray, y: np.ndarray | None, ctx: WorkerContext) -> list[dict[str, float]]:
    """Train ``job`` on ``(x, y)``; returns the per-epoch history (every rank)."""
    fit = FitConfig.model_validate(job.fit)
    info = ckpt.info_from_dict(job.info)
    torch.manual_seed(job.seed)  # identical initial weights on every rank
    model = build_model(job.family, job.model_config, info).to(ctx.device)
    optimizers, schedulers = build_optimizers(model, fit)
    history: list[dict[str, float]] = []
    start_epoch = 0
    restored = ctx.restore()
    if restored is not None:
        model.load_state_dict(restored.model_state)
        for k, o in optimizers.items():
            o.load_state_dict(restored.trainer_state["optimizers"][k])
        for k, s in schedulers.items():
            s.load_state_dict(restored.trainer_state["schedulers"][k])
        start_epoch = restored.trainer_state["epoch"] + 1
        history = restored.trainer_state["history"]
    if ctx.world_size > 1:
        for t in model.state_dict().values():
            dist.broadcast(t, src=0)
    group_params = {k: [p for g in o.param_groups for p in g["params"]] for k, o in optimizers.items()}
    per_rank = max(1, fit.batch_size // ctx.world_size)
    xt = torch.from_numpy(np.array(x, dtype=np.float32))  # a writable copy (Ray hands out read-only arrays)
    yt = None if y is None else torch.from_numpy(np.array(y, dtype=np.int64))
    train_seconds = history[-1]["train_seconds"] if history else 0.0

    if model.direct_fit:
        if start_epoch == 0:  # one "epoch": the family's own solver on the whole split (rank 0's copy is kept)
            t0 = time.perf_counter()
            gen = torch.Generator(device=ctx.device).manual_seed(epoch_seed(job.seed, 0))
            stats = model.fit_direct(xt.to(ctx.device), None if yt is None else yt.to(ctx.device), gen)
            elapsed = time.perf_counter() - t0
            row = {"epoch": 0.0, **{f"fit/{k}": float(v) for k, v in stats.items()}, "epoch_seconds": elapsed, "train_seconds": elapsed}
            history.append(row)
            ctx.save(row, lambda path: (ckpt.write_model(path, model, job.family, {"name": job.name}), ckpt.write_trainer_state(path, optimizers, schedulers, 0, history)))
        return history

    for epoch in range(start_epoch, fit.epochs):
        t0 = time.perf_counter()
        model.train()
        order = torch.from_numpy(np.random.default_rng(epoch_seed(job.seed, epoch)).permutation(len(xt)))
        mine = order[ctx.rank :: ctx.world_size]
        gen = torch.Generator(device=ctx.device).manual_seed(epoch_seed(job.seed, epoch, ctx.rank))
        sums: dict[str, float] = {}
        steps = 0
        n_batches = max(1, (len(order) // ctx.world_size) // per_rank)  # equal on every rank
        for b in range(n_batches):
            idx = mine[b * per_rank : (b + 1) * per_rank]
            xb = xt[idx].to(ctx.device, non_blocking=True)
            yb = None if yt is None else yt[idx].to(ctx.device)
            for group, loss in model.training_losses(xb, yb, gen):
                if not torch.isfinite(loss):
                    raise TrainingDiverged(f"{job.name} diverged at epoch {epoch}: loss '{group}' is {loss.item()}")
                opt = optimizers[group]
                opt.zero_grad(set_to_none=True)
                loss.backward()
                sync_gradients(group_params[group], ctx.world_size)
                if fit.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(group_params[group], fit.grad_clip)
                opt.step()
                sums[group] = sums.get(group, 0.0) + loss.item()
            steps += 1
        for s in schedulers.values():
            s.step()
        losses = {f"loss/{k}": v / max(steps, 1) for k, v in sums.items()}
        if ctx.world_size > 1:
            vec = torch.tensor(list(losses.values()), dtype=torch.float64, device=ctx.device)
            dist.all_reduce(vec)
            losses = dict(zip(losses, (vec / ctx.world_size).tolist()))
        elapsed = time.perf_counter() - t0
        train_seconds += elapsed
        row = {"epoch": float(epoch), **losses, "epoch_seconds": elapsed, "train_seconds": train_seconds}
        history.append(row)

        def write(path: Path, epoch: int = epoch) -> None:
            ckpt.write_model(path, model, job.family, {"name": job.name})
            ckpt.write_trainer_state(path, optimizers, schedulers, epoch, history)

        ctx.save(row, write)
    return history


def describe(row: dict[str, float]) -> str:
    """One progress line for an epoch's history row."""
    parts = [f"epoch {int(row['epoch'])}"]
    parts += [f"{k}={v:.4f}" for k, v in row.items() if k.startswith("loss/") and math.isfinite(v)]
    parts.append(f"{row['epoch_seconds']:.2f}s")
    return " ".join(parts)
