"""Typed configs of training: per-model optimisation (``fit``) and the shared ``scaling``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from genmodels.configbase import StrictModel


class FitConfig(StrictModel):
    epochs: int = Field(30, ge=1)  # passes over the training split
    batch_size: int = Field(128, ge=1)  # global batch (split evenly across workers)
    lr: float = Field(1e-3, gt=0.0)  # Adam learning rate of every optimizer group
    group_lr: dict[str, float] = Field(default_factory=dict)  # per-group overrides, e.g. {discriminator: 4e-4}
    betas: tuple[float, float] = (0.9, 0.999)  # Adam betas
    weight_decay: float = Field(0.0, ge=0.0)  # decoupled (AdamW) weight decay
    grad_clip: float | None = Field(None, gt=0.0)  # max global grad norm per group (None: off)
    schedule: Literal["constant", "cosine"] = "cosine"  # learning-rate schedule over the epochs


class ScalingConfig(StrictModel):
    # "auto": in-process for one CPU worker without RAY_ADDRESS, Ray Train otherwise;
    # "ray": always Ray Train (TorchTrainer); "local": always in-process (same loop).
    backend: Literal["auto", "ray", "local"] = "auto"
    num_workers: int = Field(1, ge=1)  # Ray Train workers (data-parallel ranks)
    use_gpu: bool = False  # one GPU per worker
    cpus_per_worker: float = Field(1.0, gt=0.0)  # CPUs Ray reserves for each worker
    storage_path: str | None = None  # checkpoint storage (shared path or URI on a multi-node cluster); default .ray_runs/
