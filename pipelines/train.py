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

from genmodels.atomic import staged_dir, write_json
from genmodels.config import Params
from genmodels.data import read_samples
from genmodels.device import resolve_device
from genmodels.training import checkpoint as ckpt
from genmodels.training.config import ScalingConfig
from genmodels.training.local import train_local
from genmodels.training.loop import TrainJob
from pipelines import paths
from pipelines.common import load_card, load_info, log, params, stable_hash, storage_path


def resolve_backend(scaling: ScalingConfig) -> str:
    """``auto`` uses Ray Train when it buys something (workers, GPUs, a cluster)."""
    if scaling.backend != "auto":
        return scaling.backend
    wants_ray = scaling.num_workers > 1 or scaling.use_gpu or bool(os.environ.get("RAY_ADDRESS"))
    return "ray" if wants_ray else "local"


def build_job(root: Path, p: Params, name: str) -> TrainJob:
    """The training job of model ``name`` on the prepared data."""
    spec = p.spec(name)
    return TrainJob(name=name, family=spec.family, model_config=spec.config, fit=spec.fit, info=load_info(root), seed=p.seed)


def fit(root: Path, p: Params, job: TrainJob, run_name: str, backend: str) -> Path:
    """Train on the chosen backend; returns the folder of the final checkpoint."""
    train = read_samples(root / paths.TRAIN)
    storage = storage_path(root, p.scaling.storage_path)
    if backend == "ray":
        from genmodels.training.ray_adapter import train_ray

        return train_ray(job, train.x, train.y, storage, run_name, p.scaling.num_workers, p.scaling.use_gpu, p.scaling.cpus_per_worker)
    if "://" in storage:  # the in-process backend checkpoints to local disk only
        storage = storage_path(root, None)
    return train_local(job, train.x, train.y, Path(storage) / run_name, str(resolve_device(p.scaling.use_gpu)))


def run(root: Path, name: str, params_file: str | None = None) -> dict:
    from genmodels.tracking.mlflow_adapter import model_run, write_run_file

    p = params(root, params_file)
    job = build_job(root, p, name)
    run_name = f"{name}-{stable_hash([*job.fingerprint(), load_card(root)['sha256']])[:12]}"
    backend = resolve_backend(p.scaling)
    log(f"train {name}: family={job.family} backend={backend} workers={p.scaling.num_workers} run={run_name}")
    out_dir = root / paths.model_dir(name)
    with model_run(root, p.experiment, name, out_dir / "mlflow.json", new=True) as mlrun:
        section = {"family": job.family, "model": job.model_config.model_dump(mode="json"), "fit": job.fit.model_dump(mode="json")}
        mlrun.log_params({"model": name, "seed": p.seed, "data": p.data.model_dump(mode="json"), "scaling": p.scaling.model_dump(mode="json"), name: section})
        mlrun.set_tags({"genmodels.family": job.family, "genmodels.backend": backend, "genmodels.ray_run": run_name})
        t0 = time.perf_counter()
        final = fit(root, p, job, run_name, backend)
        wall = time.perf_counter() - t0
        history = ckpt.read_trainer_state(final)["history"]
        with staged_dir(out_dir) as tmp:
            for f in (ckpt.MODEL_FILE, ckpt.CONFIG_FILE):
                shutil.copy2(final / f, tmp / f)
            write_json(tmp / paths.HISTORY_FILE, history)
            write_run_file(tmp / "mlflow.json", mlrun)
        if backend == "ray":
            shutil.rmtree(final, ignore_errors=True)
        mlrun.log_history(history)
        summary = {"train_seconds": history[-1]["train_seconds"], "train_wall_seconds": wall, "epochs": len(history)}
        mlrun.log_metrics(summary)
        mlrun.log_artifact(out_dir, "checkpoint")
    log(f"train {name}: {len(history)} epochs, {summary['train_seconds']:.1f}s training, {wall:.1f}s wall")
    return summary
