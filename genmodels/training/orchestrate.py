"""One model's training from start to end: the backend, the resumable checkpoint run, the export.

The checkpoint run is named ``<model>[-<tag>]-<digest>``, the digest covering everything that
shapes the weights (:meth:`TrainJob.fingerprint`) and the identity of the data, under a fixed
storage folder: training again after an interruption resumes from the last checkpoint, while
any change of params, data or seed starts a fresh run. MLflow is not touched here (the caller
records the run); Ray only on the ``ray`` backend, inside :func:`fit`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genmodels.atomic import write_json
from genmodels.config import Params
from genmodels.data import Samples
from genmodels.data.base import DatasetInfo
from genmodels.device import resolve_device
from genmodels.models.core.registry import build_model, model_class
from genmodels.training import checkpoint as ckpt
from genmodels.training.config import ScalingConfig
from genmodels.training.interrupt import TrainingInterrupted
from genmodels.training.local import train_local
from genmodels.training.loop import TrainJob
from genmodels.training.ray_checks import PLACEMENT_FILE
from genmodels.training.selection import VAL_KEY, best_so_far


def resolve_backend(scaling: ScalingConfig, environ: Mapping[str, str] = os.environ) -> str:
    """``auto`` uses Ray Train when it buys something (workers, GPUs, a cluster in ``RAY_ADDRESS``)."""
    if scaling.backend != "auto":
        return scaling.backend
    wants_ray = scaling.num_workers > 1 or scaling.use_gpu or bool(environ.get("RAY_ADDRESS"))
    return "ray" if wants_ray else "local"


def build_job(p: Params, name: str, info: DatasetInfo, val: np.ndarray | None) -> TrainJob:
    """The training job of model ``name`` on data described by ``info`` (``val``: the validation split).

    The model is built once here, so that a configuration the data cannot take (a
    :class:`~genmodels.errors.ModelConfigError`) stops before anything is trained or logged.
    """
    spec = p.spec(name)
    build_model(spec.family, spec.config, info)
    return TrainJob(name=name, family=spec.family, model_config=spec.config, fit=spec.fit, info=info, seed=p.seed, val=val)


def run_digest(parts: Sequence[Any], length: int = 12) -> str:
    """The first ``length`` hex digits of the sha256 of ``parts`` as canonical JSON (sorted keys)."""
    return hashlib.sha256(json.dumps(list(parts), sort_keys=True, default=str).encode()).hexdigest()[:length]


def checkpoint_run(job: TrainJob, data_id: Any, tag: str = "") -> str:
    """The checkpoint run's name: ``<model>[-<tag>]-<digest of the job, the data's identity and the tag>``."""
    extra = [tag] if tag else []
    return "-".join([job.name, *extra, run_digest([*job.fingerprint(), data_id, *extra])])


@dataclass(frozen=True)
class RunStore:
    """Where checkpoint runs live: Ray Train's storage (a folder, or a URI on a cluster) and the
    in-process backend's folder on local disk."""

    storage: str
    local: Path

    def local_dir(self, run_name: str) -> Path:
        """The in-process backend's checkpoints of run ``run_name``."""
        return self.local / run_name


def fit(job: TrainJob, train: Samples, scaling: ScalingConfig, store: RunStore, run_name: str, backend: str) -> Path:
    """Train ``job`` on ``train`` with ``backend`` (``local`` or ``ray``); returns the final checkpoint's folder."""
    if backend == "ray":
        from genmodels.training.ray_adapter import train_ray

        sc = scaling
        return train_ray(
            job, train.x, train.y, store.storage, run_name, sc.num_workers, sc.use_gpu, sc.cpus_per_worker,
            checkpoint_seconds=sc.checkpoint_seconds, max_failures=sc.max_failures,
        )  # fmt: skip
    if backend != "local":
        raise ValueError(f"backend must be 'local' or 'ray', got {backend!r}")
    device = str(resolve_device(scaling.use_gpu))
    return train_local(job, train.x, train.y, store.local_dir(run_name), device, scaling.checkpoint_seconds)


def export_checkpoint(final: Path, dest: Path, backend: str, history_file: str) -> list[dict[str, float]]:
    """Copy the final checkpoint's weights and config to ``dest`` with the history (as
    ``history_file``) and, from Ray, the ranks' placement; returns the history."""
    history = ckpt.read_trainer_state(final)["history"]
    dest.mkdir(parents=True, exist_ok=True)
    for f in (ckpt.MODEL_FILE, ckpt.CONFIG_FILE):
        shutil.copy2(final / f, dest / f)
    if (final / PLACEMENT_FILE).is_file():  # Ray: which node each rank ran on
        shutil.copy2(final / PLACEMENT_FILE, dest / PLACEMENT_FILE)
    write_json(dest / history_file, history)
    if backend == "ray":  # Ray Train's run folders are not resume state once exported
        shutil.rmtree(final, ignore_errors=True)
    return history


def summarize(history: list[dict[str, float]], wall: float) -> dict[str, float]:
    """The run's summary metrics: time, epochs run, and the selected epoch where one was validated."""
    summary = {"train_seconds": history[-1]["train_seconds"], "train_wall_seconds": wall, "epochs": len(history)}
    best = best_so_far(history)
    if best is not None:
        summary |= {"best_epoch": best.epoch, f"best_{VAL_KEY}": best.value}
    return summary


def interrupted(exc: TrainingInterrupted, job: TrainJob, store: RunStore, run_name: str, backend: str, root: Path) -> TrainingInterrupted:
    """``exc`` with a message that names the model, its last checkpoint (shown relative to ``root``) and how to resume."""
    found = sorted(store.local_dir(run_name).glob(f"checkpoint_*/{ckpt.TRAINER_FILE}")) if backend == "local" else []
    progress = "no checkpoint written yet"
    if found:
        last = found[-1].parent
        total = 1 if model_class(job.family).direct_fit else job.fit.epochs
        shown = last.relative_to(root) if last.is_relative_to(root) else last
        progress = f"last checkpoint after epoch {int(last.name.split('_')[-1]) + 1} of {total} ({shown})"
    return exc.with_message(f"train {job.name}: interrupted by {exc.signal_name}, {progress}; run the same command again to resume")
