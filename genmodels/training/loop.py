"""The per-worker training loop: one loop for every family and every backend.

The backend (in-process or a Ray Train worker) supplies a :class:`WorkerContext` that
knows the rank, restores the latest checkpoint and persists new ones. Data parallelism is
plain gradient averaging: after each backward pass the gradients of the stepped group are
all-reduced as one flat buffer, which is what DDP does, but it also works for families
that step several optimizers per batch (GANs) where DDP's forward hook does not fit.
"""

from __future__ import annotations

import hashlib
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor

from genmodels.configbase import StrictModel
from genmodels.data.base import DatasetInfo
from genmodels.errors import GenmodelsError
from genmodels.models.core.base import GenerativeModel
from genmodels.models.core.registry import build_model
from genmodels.training import checkpoint as ckpt
from genmodels.training import selection
from genmodels.training.config import FitConfig
from genmodels.training.divergence import Snapshot, TrainingDiverged, clip, finite_or_raise, state_sums

__all__ = ["TrainJob", "TrainingDiverged", "train_worker"]  # TrainingDiverged: what a diverging run raises

RNG_FILE = "rng.pt"  # the global torch RNG state at the checkpoint (dropout draws from it)


@dataclass(frozen=True)
class TrainJob:
    """Everything a worker needs to train one model: validated configs and the validation
    split (data-space ``x``, what ``fit.select`` chooses the kept epoch on), picklable for Ray."""

    name: str  # the model's name in params.yaml
    family: str  # its registered family
    model_config: StrictModel  # the family's config object
    fit: FitConfig
    info: DatasetInfo
    seed: int
    val: np.ndarray | None = field(default=None, compare=False, repr=False)  # validation images/points, (n, *shape)

    def __post_init__(self) -> None:
        self.select  # noqa: B018  (an impossible selection fails here, on the driver, in one line)

    @property
    def select(self) -> Literal["last", "best_val"]:
        """``fit.select`` resolved for this family and data: ``last`` or ``best_val``."""
        return selection.resolve_select(self.name, self.family, self.fit, self.val is not None)

    @classmethod
    def create(
        cls, name: str, family: str, model_config: dict[str, Any] | StrictModel, fit: dict[str, Any] | FitConfig,
        info: DatasetInfo, seed: int, val: np.ndarray | None = None,
    ) -> TrainJob:  # fmt: skip
        """Build a job from mappings or config objects (mappings are validated by the family's config class)."""
        from genmodels.configbase import validate
        from genmodels.models.core.registry import model_class

        config_cls = model_class(family).config_cls
        model = model_config if isinstance(model_config, config_cls) else validate(config_cls, model_config, f"{name}.model")
        fit = fit if isinstance(fit, FitConfig) else validate(FitConfig, fit, f"{name}.fit")
        return cls(name=name, family=family, model_config=model, fit=fit, info=info, seed=seed, val=val)

    def fingerprint(self) -> list[Any]:
        """JSON-able identity of the training run (everything that shapes the weights)."""
        val = None if self.val is None else hashlib.sha256(np.ascontiguousarray(self.val, dtype=np.float32).tobytes()).hexdigest()
        return [self.family, self.model_config.model_dump(mode="json"), self.fit.model_dump(mode="json"), self.seed, self.info.to_json(), val]


@dataclass
class Restored:
    model_state: dict[str, torch.Tensor]
    trainer_state: dict[str, Any]
    best_state: dict[str, torch.Tensor] | None = None  # weights of the best validated epoch (select=best_val)
    rng_state: dict[str, torch.Tensor] | None = None  # the global torch RNG at the checkpoint (None: an older checkpoint)


def save_rng(path: Path, device: torch.device) -> None:
    """Write the global torch RNG state (CPU, and the device's own on CUDA) to ``rng.pt``.

    Layers that draw from the global generator while training (``nn.Dropout``) then continue
    after a resume exactly where the uninterrupted run would be.
    """
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    torch.save(state, path / RNG_FILE)


def load_rng(state: dict[str, torch.Tensor], device: torch.device) -> None:
    """Set the global torch RNG to a state written by :func:`save_rng`."""
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def restore_dir(path: Path, device: torch.device) -> Restored:
    """Read a checkpoint folder written by the loop (model, trainer state, best weights, RNG state)."""
    state = torch.load(path / ckpt.MODEL_FILE, map_location=device, weights_only=True)
    rng = path / RNG_FILE
    rng_state = torch.load(rng, map_location="cpu", weights_only=True) if rng.is_file() else None
    return Restored(
        model_state=state, trainer_state=ckpt.read_trainer_state(path), best_state=ckpt.read_best(path, device), rng_state=rng_state,
    )  # fmt: skip


class WorkerContext(Protocol):
    rank: int
    world_size: int
    device: torch.device

    def restore(self) -> Restored | None: ...

    def save(self, metrics: dict[str, float], write: Callable[[Path], None], final: bool) -> None:
        """Take the epoch's metrics (every epoch) and, when the backend's cadence says so or
        ``final`` (the loop's last epoch), a checkpoint written by ``write`` into a folder."""
        ...


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


@dataclass
class _State:
    """A worker's live training state: the model, its optimizers and the history so far."""

    model: GenerativeModel
    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: dict[str, Any]
    history: list[dict[str, float]]
    start_epoch: int
    best_state: dict[str, torch.Tensor] | None = None  # a copy of the best validated epoch's weights
    snapshot: Snapshot | None = None  # the current epoch's start, for a replay after a non-finite epoch

    def writer(self, job: TrainJob, epoch: int, device: torch.device) -> Callable[[Path], None]:
        def write(path: Path) -> None:
            ckpt.write_model(path, self.model, job.family, {"name": job.name})
            ckpt.write_trainer_state(path, self.optimizers, self.schedulers, epoch, self.history)
            save_rng(path, device)
            if self.best_state is not None:
                ckpt.write_best(path, self.best_state)

        return write


def _build_state(job: TrainJob, ctx: WorkerContext) -> _State:
    """Build the model and optimizers, then restore the latest checkpoint if there is one."""
    torch.manual_seed(job.seed)  # identical initial weights on every rank
    model = build_model(job.family, job.model_config, job.info).to(ctx.device)
    optimizers, schedulers = build_optimizers(model, job.fit)
    state = _State(model, optimizers, schedulers, history=[], start_epoch=0)
    restored = ctx.restore()
    if restored is not None:
        model.load_state_dict(restored.model_state)
        for k, o in optimizers.items():
            o.load_state_dict(restored.trainer_state["optimizers"][k])
        for k, s in schedulers.items():
            s.load_state_dict(restored.trainer_state["schedulers"][k])
        state.start_epoch = restored.trainer_state["epoch"] + 1
        state.history = restored.trainer_state["history"]
        state.best_state = restored.best_state
        if restored.rng_state is not None:
            load_rng(restored.rng_state, ctx.device)
    if ctx.world_size > 1:
        for t in model.state_dict().values():
            dist.broadcast(t, src=0)
    return state


def _fit_direct(job: TrainJob, state: _State, xt: Tensor, yt: Tensor | None, ctx: WorkerContext) -> None:
    """One "epoch": the family's own solver on the whole split (rank 0's copy is kept)."""
    if state.start_epoch > 0:
        return
    t0 = time.perf_counter()
    gen = torch.Generator(device=ctx.device).manual_seed(epoch_seed(job.seed, 0))
    stats = state.model.fit_direct(xt.to(ctx.device), None if yt is None else yt.to(ctx.device), gen)
    elapsed = time.perf_counter() - t0
    row = {"epoch": 0.0, **{f"fit/{k}": float(v) for k, v in stats.items()}, "epoch_seconds": elapsed, "train_seconds": elapsed}
    state.history.append(row)
    ctx.save(row, state.writer(job, 0, ctx.device), final=True)


def _train_epoch(job: TrainJob, state: _State, epoch: int, xt: Tensor, yt: Tensor | None, ctx: WorkerContext) -> dict[str, float]:
    """One pass over this rank's shard; returns the rank-averaged mean loss per group.

    Divergence is checked once per epoch, not per step: the epoch starts with a snapshot of the
    weights, the optimizers' state and the global RNG (copied into buffers kept from epoch to
    epoch), and sums the step losses on the device; at its end one read takes the loss sums
    and the sum of every weight and optimizer-state tensor (a NaN or inf anywhere makes its sum
    non-finite). A non-finite read restores the snapshot and replays the epoch (bit for bit:
    same batches, same generators) with the per-step check of :func:`~genmodels.training.divergence.finite_or_raise`, which
    stops the run at the first step whose loss or gradient norm is not finite, before the
    optimizer applies it, with the same message as a run checked at every step. A NaN or inf
    gradient always reaches the weights or Adam's moments (``m / sqrt(v)`` of an inf is NaN),
    so no non-finite state survives an epoch; the check costs a copy and a sum of the state per
    epoch instead of a pass over the gradients per step. (A sum that overflows with finite
    entries only costs a replay that finds nothing: the checked pass then returns as usual.)
    """
    if state.snapshot is None:
        state.snapshot = Snapshot()
    state.snapshot.take(state.model, state.optimizers)
    losses = _run_epoch(job, state, epoch, xt, yt, ctx, checked=False)
    if losses is None:
        state.snapshot.restore(state.optimizers)
        losses = _run_epoch(job, state, epoch, xt, yt, ctx, checked=True)
        assert losses is not None  # the checked pass raises where the unchecked one went wrong
    return losses


def _run_epoch(
    job: TrainJob, state: _State, epoch: int, xt: Tensor, yt: Tensor | None, ctx: WorkerContext, checked: bool,
) -> dict[str, float] | None:  # fmt: skip
    """The epoch's steps. ``checked``: the per-step check (raises at the first non-finite step);
    otherwise the loss sums stay on the device and ``None`` means a NaN or inf reached the
    loss sums, the weights or the optimizer state (the caller replays the epoch checked)."""
    fit, model = job.fit, state.model
    group_params = {k: [p for g in o.param_groups for p in g["params"]] for k, o in state.optimizers.items()}
    per_rank = max(1, fit.batch_size // ctx.world_size)
    model.train()
    order = torch.from_numpy(np.random.default_rng(epoch_seed(job.seed, epoch)).permutation(len(xt)))
    mine = order[ctx.rank :: ctx.world_size]
    gen = torch.Generator(device=ctx.device).manual_seed(epoch_seed(job.seed, epoch, ctx.rank))
    sums: dict[str, Tensor | float] = {}
    steps = 0
    n_batches = max(1, (len(order) // ctx.world_size) // per_rank)  # equal on every rank
    for b in range(n_batches):
        idx = mine[b * per_rank : (b + 1) * per_rank]
        xb = xt[idx].to(ctx.device, non_blocking=True)
        yb = None if yt is None else yt[idx].to(ctx.device)
        for group, loss in model.training_losses(xb, yb, gen):
            opt = state.optimizers[group]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            sync_gradients(group_params[group], ctx.world_size)
            if checked:
                value, norms = finite_or_raise(job, epoch, b, n_batches, group, loss, group_params[group])
                if fit.grad_clip is not None:
                    clip(group_params[group], fit.grad_clip, norms)  # from the norms the check computed
                sums[group] = sums.get(group, 0.0) + value
            else:
                if fit.grad_clip is not None:
                    clip(group_params[group], fit.grad_clip)
                # float64 sums of the float32 step losses, in step order: the same floats as a host-side sum
                sums[group] = sums.get(group, 0.0) + loss.detach().reshape(()).to(torch.float64)
            opt.step()
        steps += 1
    if not checked:
        state_sum = torch.stack(state_sums(state.model, state.optimizers) or [torch.zeros((), device=ctx.device)]).to(torch.float64).sum()
        read = torch.stack([*(torch.as_tensor(v, dtype=torch.float64, device=ctx.device) for v in sums.values()), state_sum]).tolist()
        bad = not all(math.isfinite(v) for v in read)
        if ctx.world_size > 1:  # every rank replays, or none does
            flag = torch.tensor([float(bad)], device=ctx.device)
            dist.all_reduce(flag)
            bad = flag.item() > 0
        if bad:
            return None
        sums = dict(zip(sums, read[:-1]))
    for s in state.schedulers.values():
        s.step()
    losses = {f"loss/{k}": v / max(steps, 1) for k, v in sums.items()}
    if ctx.world_size > 1:
        vec = torch.tensor(list(losses.values()), dtype=torch.float64, device=ctx.device)
        dist.all_reduce(vec)
        losses = dict(zip(losses, (vec / ctx.world_size).tolist()))
    return losses


def _validate(job: TrainJob, state: _State, epoch: int, xv: Tensor, ctx: WorkerContext) -> dict[str, float]:
    """The validation NLL of ``epoch`` (where due); keeps a copy of the weights when it is the best so far."""
    if not selection.validates(epoch, job.fit):
        return {}
    t0 = time.perf_counter()
    gen = selection.val_generator(job.seed, ctx.rank, ctx.device)
    value = selection.validation_nll(state.model, xv, gen, job.fit.val_samples, ctx.rank, ctx.world_size)
    best = selection.best_so_far([*state.history, {"epoch": float(epoch), selection.VAL_KEY: value}])
    if best is not None and best.epoch == epoch:
        state.best_state = {k: v.detach().clone() for k, v in state.model.state_dict().items()}
    return {selection.VAL_KEY: value, "val_seconds": time.perf_counter() - t0}


def _finish(job: TrainJob, state: _State, xt: Tensor, xv: Tensor | None, ctx: WorkerContext) -> dict[str, float]:
    """The model's :meth:`~GenerativeModel.finish_training` on the kept weights (the same on every
    rank), and the validation NLL of the finished model when it changed anything."""
    gen = torch.Generator(device=ctx.device).manual_seed(epoch_seed(job.seed, job.fit.epochs))
    stats = {f"finish/{k}": v for k, v in state.model.finish_training(xt.to(ctx.device), gen).items()}
    if stats and xv is not None:
        val_gen = selection.val_generator(job.seed, ctx.rank, ctx.device)
        stats[f"finish/{selection.VAL_KEY}"] = selection.validation_nll(state.model, xv, val_gen, job.fit.val_samples, ctx.rank, ctx.world_size)
    return stats


def train_worker(job: TrainJob, x: np.ndarray, y: np.ndarray | None, ctx: WorkerContext) -> list[dict[str, float]]:
    """Train ``job`` on ``(x, y)``; returns the per-epoch history (every rank).

    With ``select`` best_val the run validates (see :mod:`genmodels.training.selection`),
    may stop early, and its final checkpoint holds the best validated epoch's weights.
    """
    state = _build_state(job, ctx)
    xt = _read_only_tensor(x, np.float32)
    yt = None if y is None else _read_only_tensor(y, np.int64)
    if state.model.direct_fit:
        _fit_direct(job, state, xt, yt, ctx)
        return state.history
    best_val = job.select == "best_val"
    xv = _read_only_tensor(job.val, np.float32) if best_val else None
    train_seconds = state.history[-1]["train_seconds"] if state.history else 0.0
    for epoch in range(state.start_epoch, job.fit.epochs):
        if best_val and selection.stops(state.history, job.fit):
            break  # resumed after an early stop: the final checkpoint is already written
        t0 = time.perf_counter()
        losses = _train_epoch(job, state, epoch, xt, yt, ctx)
        elapsed = time.perf_counter() - t0
        train_seconds += elapsed
        row = {"epoch": float(epoch), **losses, "epoch_seconds": elapsed, "train_seconds": train_seconds}
        if xv is not None:
            row.update(_validate(job, state, epoch, xv, ctx))
        state.history.append(row)
        final = epoch == job.fit.epochs - 1 or (best_val and selection.stops(state.history, job.fit))
        if best_val and final:
            state.model.load_state_dict(state.best_state)  # the final checkpoint holds the selected weights
        if final:
            row.update(_finish(job, state, xt, xv, ctx))
        ctx.save(row, state.writer(job, epoch, ctx.device), final=final)
    return state.history


def _read_only_tensor(a: np.ndarray, dtype: type) -> Tensor:
    """``a`` as a tensor, without a copy when it is already contiguous ``dtype``.

    Ray's object store hands each worker a read-only view of one copy per node; copying it
    gave every worker a private copy of the whole training array. The loop only reads these
    tensors (batches are gathered copies), so torch's "not writable" warning does not apply.
    """
    a = np.ascontiguousarray(a, dtype=dtype)
    if a.flags.writeable:
        return torch.from_numpy(a)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(a)


def describe(row: dict[str, float]) -> str:
    """One progress line for an epoch's history row."""
    parts = [f"epoch {int(row['epoch'])}"]
    parts += [f"{k}={v:.4f}" for k, v in row.items() if k.startswith("loss/") and math.isfinite(v)]
    if selection.VAL_KEY in row:
        parts.append(f"val_nll={row[selection.VAL_KEY]:.4f}")
    parts.append(f"{row['epoch_seconds']:.2f}s")
    return " ".join(parts)
