"""Training jobs on the project's files: :mod:`genmodels.training.orchestrate` bound to the
prepared data, the dataset card and the checkpoint storage (``train@<model>``, ``genmodels tune``),
and the extra trainings of :mod:`pipelines.variants`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from genmodels.config import Params
from genmodels.data import read_samples
from genmodels.training.loop import TrainJob
from genmodels.training.orchestrate import RunStore, build_job, checkpoint_run, export_checkpoint, fit
from pipelines import paths
from pipelines.common import load_card, load_info, log, storage_path
from pipelines.variants import drop_class, holdout_variant, seed_variants


def prepared_job(root: Path, p: Params, name: str) -> TrainJob:
    """The training job of model ``name`` on the prepared data (with the validation split)."""
    return build_job(p, name, load_info(root), read_samples(root / paths.VAL).x)


def run_name(root: Path, job: TrainJob, tag: str = "") -> str:
    """The job's checkpoint run on the prepared data (identified by the card's file hashes)."""
    return checkpoint_run(job, load_card(root)["sha256"], tag)


def run_store(root: Path, p: Params) -> RunStore:
    """``scaling.storage_path`` (or ``.ray_runs/``); the in-process backend keeps to local disk."""
    storage = storage_path(root, p.scaling.storage_path)
    return RunStore(storage=storage, local=Path(storage_path(root, None) if "://" in storage else storage))


def train_variants(root: Path, p: Params, job: TrainJob, store: RunStore, backend: str, into: Path) -> dict[str, float]:
    """Train every variant of ``job``'s model (extra seeds, the held-out-class copy) into
    ``into/<folder>``; returns their training seconds."""
    train = read_samples(root / paths.TRAIN)
    holdout = holdout_variant(p, job.name, job.info, train.y)
    summary = {}
    for v in [*seed_variants(p), *([holdout] if holdout else [])]:
        vjob, tag = dataclasses.replace(job, seed=v.seed), ""
        if v.exclude_class is not None:
            val = drop_class(read_samples(root / paths.VAL), v.exclude_class).x if job.val is not None else None
            vjob, tag = dataclasses.replace(vjob, val=val), f"holdout{v.exclude_class}"
        log(f"train {job.name}: {v.label} -> {paths.model_dir(job.name) / v.folder}")
        final = fit(vjob, drop_class(train, v.exclude_class), p.scaling, store, run_name(root, vjob, tag), backend)
        history = export_checkpoint(final, into / v.folder, backend, paths.HISTORY_FILE)
        summary[f"{v.folder.as_posix().replace('/', '.')}.train_seconds"] = history[-1]["train_seconds"]
    return summary
