"""Typed configs of training: per-model optimisation (``fit``) and the shared ``scaling``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from genmodels.configbase import StrictModel

#: Which epoch's weights the final checkpoint holds (see ``FitConfig.select``).
Select = Literal["auto", "last", "best_val"]


class FitConfig(StrictModel):
    epochs: int = Field(30, ge=1)  # passes over the training split
    batch_size: int = Field(128, ge=1)  # global batch (split evenly across workers)
    lr: float = Field(1e-3, gt=0.0)  # Adam learning rate of every optimizer group
    group_lr: dict[str, float] = Field(default_factory=dict)  # per-group overrides, e.g. {discriminator: 4e-4}
    betas: tuple[float, float] = (0.9, 0.999)  # Adam betas
    weight_decay: float = Field(0.0, ge=0.0)  # decoupled (AdamW) weight decay
    grad_clip: float | None = Field(None, gt=0.0)  # max global grad norm per group (None: off)
    schedule: Literal["constant", "cosine"] = "cosine"  # learning-rate schedule over the epochs
    # model selection on the validation split (early stopping): "best_val" keeps the weights of
    # the validated epoch with the lowest validation NLL (bits/dim); "last" the last epoch's;
    # "auto" is best_val for families with an exact or bounded likelihood (flow, VAE) when the
    # validation split is given, last otherwise (GAN, RBM's AIS estimate, closed-form fits).
    # best_val on a family without a likelihood, or fitted in closed form, is an error.
    select: Select = "auto"
    val_every: int = Field(1, ge=1)  # epochs between validations (the last epoch is always validated)
    patience: int | None = Field(None, ge=1)  # stop after this many validations without improvement (None: run every epoch)
    val_samples: int = Field(1, ge=1)  # dequantization draws per image of the validation NLL (importance sampling; 1: the dequantized bound)

    @model_validator(mode="after")
    def _patience_needs_validation(self) -> FitConfig:
        if self.patience is not None and self.select == "last":
            raise ValueError("patience needs validation: set select to best_val or auto, or drop patience")
        return self


class ScalingConfig(StrictModel):
    # "auto": in-process for one CPU worker without RAY_ADDRESS, Ray Train otherwise;
    # "ray": always Ray Train (TorchTrainer); "local": always in-process (same loop).
    backend: Literal["auto", "ray", "local"] = "auto"
    num_workers: int = Field(1, ge=1)  # Ray Train workers (data-parallel ranks)
    use_gpu: bool = False  # one GPU per worker
    cpus_per_worker: float = Field(1.0, gt=0.0)  # CPUs Ray reserves for each worker
    storage_path: str | None = None  # checkpoint storage (shared path or URI on a multi-node cluster); default .ray_runs/
    # seconds between checkpoints: one after the first epoch that ends at least this long after
    # the previous checkpoint (or the start), and always after the last epoch; 0: after every epoch.
    # Metrics are logged every epoch either way; resuming replays the epochs since the checkpoint
    # exactly (seeds per epoch, RNG state in the checkpoint), so the cadence never changes a result.
    checkpoint_seconds: float = Field(30.0, ge=0.0)
    # Ray Train: restart the worker group from the last checkpoint after a worker or node dies,
    # at most this many times (-1: without limit; 0: fail on the first). Not used in-process.
    max_failures: int = Field(0, ge=-1)
