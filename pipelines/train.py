"""Stage ``train@<model>``: fit one model (in-process or on Ray Train) and record it in MLflow.

The checkpoint run is named ``<model>-<hash of everything that shapes training>`` under a
fixed storage path, so re-running after an interruption resumes from the last epoch,
while any change of params, data or seed starts a fresh run.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import torch

from genmodels.config import Params
from genmodels.data import read_samples
from genmodels.training import checkpoint as ckpt
from genmodels.training.config import ScalingConfig
from genmodels.training.local import train_local
from genmodels.training.loop import TrainJob
from pipelines import paths
from pipelines.common import load_card, load_info, log, params, stable_hash, staged_dir, storage_path, write_json


def resolve_backend(scaling: ScalingConfig) -> str:
    """``auto`` uses Ray Train when it buys something (workers, GPUs, a cluster)."""
    if scaling.backend != "auto":
        return scaling.backend
    wants_ray = scaling.num_workers > 1 or scaling.use_gpu or bool(os.environ.get("RAY_ADDRESS"))
    return "ray" if wants_ray else "local"


def build_job(root: Path, p: Params, name: str) -> tuple[TrainJob, dict]:
    """The training job of model section ``name`` on the prepared data (and the data card)."""
    section = p.section(name)
    card, info = load_card(root), load_info(root)
    job = TrainJob(
        name=name,
        family=section.family or name,
        model_config=section.model,
        fit=section.fit.model_dump(mode="json"),
        info=ckpt.info_to_dict(info),
        seed=p.seed,
    )
    return job, card


def run(root: Path, name: str, params_file: str | None = None) -> dict:
    from genmodels.tracking.mlflow_adapter import model_run, write_run_file

    p = params(root, params_file)
    section = p.section(name)
    job, card = build_job(root, p, name)
    train = read_samples(root / paths.TRAIN)
    run_name = f"{name}-{stable_hash([job.family, job.model_config, job.fit, job.seed, card['sha256']])[:12]}"
    backend = resolve_backend(p.scaling)
    storage = storage_path(root, p.scaling.storage_path)
    if backend == "local" and "://" in storage:  # the in-process backend checkpoints to local disk only
        storage = storage_path(root, None)
    log(f"train {name}: family={job.family} backend={backend} workers={p.scaling.num_workers} run={run_name}")

    out_dir = root / paths.model_dir(name)
    with model_run(root, p.experiment, name, out_dir / "mlflow.json", new=True) as mlrun:
        mlrun.log_params({"model": name, "seed": p.seed, "data": p.data.model_dump(mode="json"), "scaling": p.scaling.model_dump(mode="json"), name: section.model_dump(mode="json")})
        mlrun.set_tags({"genmodels.family": job.family, "genmodels.backend": backend, "genmodels.ray_run": run_name})
        t0 = time.perf_counter()
        if backend == "ray":
            from genmodels.training.ray_adapter import train_ray

            final = train_ray(job, train.x, train.y, storage, run_name, p.scaling.num_workers, p.scaling.use_gpu, p.scaling.cpus_per_worker)
        else:
            device = "cuda" if p.scaling.use_gpu and torch.cuda.is_available() else "cpu"
            final = train_local(job, train.x, train.y, Path(storage) / run_name, device)
        wall = time.perf_counter() - t0
        history = ckpt.read_trainer_state(final)["history"]
        with staged_dir(out_dir) as tmp:
            for f in (ckpt.MODEL_FILE, ckpt.CONFIG_FILE):
                shutil.copy2(final / f, tmp / f)
            write_json(tmp / "history.json", history)
            write_run_file(tmp / "mlflow.json", mlrun)
        if backend == "ray":
            shutil.rmtree(final, ignore_errors=True)
        mlrun.log_history(history)
        summary = {"train_seconds": history[-1]["train_seconds"], "train_wall_seconds": wall, "epochs": len(history)}
        mlrun.log_metrics(summary)
        mlrun.log_artifact(out_dir, "checkpoint")
    log(f"train {name}: {len(history)} epochs, {summary['train_seconds']:.1f}s training, {wall:.1f}s wall")
    return summary
