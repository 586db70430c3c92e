"""Stage ``train@<model>``: fit one model (in-process or on Ray Train) and record it in MLflow.

The checkpoint run is named ``<model>-<hash of everything that shapes training>`` under a
fixed storage path, so re-running after an interruption resumes from the last epoch,
while any change of params, data or seed starts a fresh run.

SIGINT / SIGTERM stop the stage cleanly (:mod:`genmodels.training.interrupt`): no partial
``models/<model>/``, the MLflow run ends KILLED, one line names the last checkpoint and the
exit code is 130 / 143. A NaN or infinite loss or gradient ends it FAILED with exit code 1.
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
from genmodels.models.core.registry import build_model
from genmodels.training import checkpoint as ckpt
from genmodels.training.config import ScalingConfig
from genmodels.training.interrupt import TrainingInterrupted, deferring, stop_on_signals
from genmodels.training.local import train_local
from genmodels.training.loop import TrainJob
from genmodels.training.ray_checks import PLACEMENT_FILE
from genmodels.training.selection import VAL_KEY, best_so_far
from pipelines import paths
from pipelines.common import load_card, load_info, log, params, stable_hash, storage_path
from pipelines.variants import drop_class, train_variants


def resolve_backend(scaling: ScalingConfig) -> str:
    """``auto`` uses Ray Train when it buys something (workers, GPUs, a cluster)."""
    if scaling.backend != "auto":
        return scaling.backend
    wants_ray = scaling.num_workers > 1 or scaling.use_gpu or bool(os.environ.get("RAY_ADDRESS"))
    return "ray" if wants_ray else "local"


def build_job(root: Path, p: Params, name: str) -> TrainJob:
    """The training job of model ``name`` on the prepared data (with the validation split).

    The model is built once here, so that a configuration the data cannot take (a
    :class:`~genmodels.errors.ModelConfigError`) stops the stage before anything is logged.
    """
    spec, info = p.spec(name), load_info(root)
    build_model(spec.family, spec.config, info)
    val = read_samples(root / paths.VAL).x
    return TrainJob(name=name, family=spec.family, model_config=spec.config, fit=spec.fit, info=info, seed=p.seed, val=val)


def summarize(history: list[dict[str, float]], wall: float) -> dict[str, float]:
    """The run's summary metrics: time, epochs run, and the selected epoch where one was validated."""
    summary = {"train_seconds": history[-1]["train_seconds"], "train_wall_seconds": wall, "epochs": len(history)}
    best = best_so_far(history)
    if best is not None:
        summary |= {"best_epoch": best.epoch, f"best_{VAL_KEY}": best.value}
    return summary


def checkpoint_run(root: Path, job: TrainJob, tag: str = "") -> str:
    """The checkpoint run's name: ``<model>[-<tag>]-<hash of everything that shapes training>``."""
    digest = stable_hash([*job.fingerprint(), load_card(root)["sha256"], *([tag] if tag else [])])[:12]
    return "-".join([job.name, *([tag] if tag else []), digest])


def export_checkpoint(final: Path, dest: Path, backend: str) -> list[dict[str, float]]:
    """Copy the final checkpoint's weights and config to ``dest`` with the history; returns it."""
    history = ckpt.read_trainer_state(final)["history"]
    dest.mkdir(parents=True, exist_ok=True)
    for f in (ckpt.MODEL_FILE, ckpt.CONFIG_FILE):
        shutil.copy2(final / f, dest / f)
    if (final / PLACEMENT_FILE).is_file():  # Ray: which node each rank ran on
        shutil.copy2(final / PLACEMENT_FILE, dest / PLACEMENT_FILE)
    write_json(dest / paths.HISTORY_FILE, history)
    if backend == "ray":  # Ray Train's run folders are not resume state once exported
        shutil.rmtree(final, ignore_errors=True)
    return history


def fit(root: Path, p: Params, job: TrainJob, run_name: str, backend: str, exclude_class: int | None = None) -> Path:
    """Train on the chosen backend (on the training split without ``exclude_class``); returns the final checkpoint's folder."""
    train = drop_class(read_samples(root / paths.TRAIN), exclude_class)
    storage = storage_path(root, p.scaling.storage_path)
    if backend == "ray":
        from genmodels.training.ray_adapter import train_ray

        sc = p.scaling
        return train_ray(
            job, train.x, train.y, storage, run_name, sc.num_workers, sc.use_gpu, sc.cpus_per_worker,
            checkpoint_seconds=sc.checkpoint_seconds, max_failures=sc.max_failures,
        )  # fmt: skip
    device = str(resolve_device(p.scaling.use_gpu))
    return train_local(job, train.x, train.y, local_run_dir(root, p, run_name), device, p.scaling.checkpoint_seconds)


def local_run_dir(root: Path, p: Params, run_name: str) -> Path:
    """Where the in-process backend keeps the run's checkpoints (local disk only)."""
    storage = storage_path(root, p.scaling.storage_path)
    if "://" in storage:
        storage = storage_path(root, None)
    return Path(storage) / run_name


def interrupted(exc: TrainingInterrupted, root: Path, p: Params, job: TrainJob, run_name: str, backend: str) -> TrainingInterrupted:
    """``exc`` with a message that names the model, its last checkpoint and how to resume."""
    from genmodels.models.core.registry import model_class

    found = sorted(local_run_dir(root, p, run_name).glob(f"checkpoint_*/{ckpt.TRAINER_FILE}")) if backend == "local" else []
    progress = "no checkpoint written yet"
    if found:
        last = found[-1].parent
        total = 1 if model_class(job.family).direct_fit else job.fit.epochs
        shown = last.relative_to(root) if last.is_relative_to(root) else last
        progress = f"last checkpoint after epoch {int(last.name.split('_')[-1]) + 1} of {total} ({shown})"
    return exc.with_message(f"train {job.name}: interrupted by {exc.signal_name}, {progress}; run the same command again to resume")


def run(root: Path, name: str, params_file: str | None = None) -> dict:
    """Train model ``name``; SIGINT / SIGTERM stop it cleanly (see the module docstring)."""
    with stop_on_signals():
        return _run(root, name, params_file)


def _run(root: Path, name: str, params_file: str | None) -> dict:
    from genmodels.tracking.mlflow_adapter import model_run, write_run_file

    p = params(root, params_file)
    job = build_job(root, p, name)
    run_name = checkpoint_run(root, job)
    backend = resolve_backend(p.scaling)
    log(f"train {name}: family={job.family} backend={backend} workers={p.scaling.num_workers} run={run_name}")
    out_dir = root / paths.model_dir(name)
    with model_run(root, p.experiment, name, out_dir / "mlflow.json", new=True) as mlrun:
        section = {"family": job.family, "model": job.model_config.model_dump(mode="json"), "fit": job.fit.model_dump(mode="json")}
        mlrun.log_params({"model": name, "seed": p.seed, "data": p.data.model_dump(mode="json"), "scaling": p.scaling.model_dump(mode="json"), name: section})
        mlrun.set_tags({"genmodels.family": job.family, "genmodels.backend": backend, "genmodels.ray_run": run_name})
        t0 = time.perf_counter()
        try:
            final = fit(root, p, job, run_name, backend)
            wall = time.perf_counter() - t0
            with deferring() as hold, staged_dir(out_dir) as tmp:
                history = export_checkpoint(final, tmp, backend)
                write_run_file(tmp / "mlflow.json", mlrun)
                extras = train_variants(root, p, job, backend, tmp)  # seeds: and evaluate.holdout_class
                hold()  # the swap into models/<model>/ completes before a signal takes effect
        except TrainingInterrupted as exc:
            raise interrupted(exc, root, p, job, run_name, backend) from None
        mlrun.log_history(history)
        summary = summarize(history, wall)
        mlrun.log_metrics({**summary, **extras})
        mlrun.log_artifact(out_dir, "checkpoint")
    kept = f", kept epoch {summary['best_epoch']} (val NLL {summary[f'best_{VAL_KEY}']:.4f} bits/dim)" if "best_epoch" in summary else ""
    log(f"train {name}: {len(history)} epochs{kept}, {summary['train_seconds']:.1f}s training, {wall:.1f}s wall")
    return summary
