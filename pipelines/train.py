"""Stage ``train@<model>``: fit one model (in-process or on Ray Train) and record it in MLflow.

The checkpoint run is named ``<model>-<hash of everything that shapes training>`` under a
fixed storage path, so re-running after an interruption resumes from the last epoch,
while any change of params, data or seed starts a fresh run.

SIGINT / SIGTERM stop the stage cleanly (:mod:`genmodels.training.interrupt`): no partial
``models/<model>/``, the MLflow run ends KILLED, one line names the last checkpoint and the
exit code is 130 / 143. A NaN or infinite loss or gradient ends it FAILED with exit code 1.
"""

from __future__ import annotations

import time
from pathlib import Path

from genmodels.atomic import staged_dir
from genmodels.data import read_samples
from genmodels.training.interrupt import TrainingInterrupted, deferring, stop_on_signals
from genmodels.training.orchestrate import export_checkpoint, fit, interrupted, resolve_backend, summarize
from genmodels.training.selection import VAL_KEY
from pipelines import paths
from pipelines.common import log, params
from pipelines.jobs import prepared_job, run_name, run_store, train_variants


def run(root: Path, name: str, params_file: str | None = None) -> dict:
    """Train model ``name``; SIGINT / SIGTERM stop it cleanly (see the module docstring)."""
    with stop_on_signals():
        return _run(root, name, params_file)


def _run(root: Path, name: str, params_file: str | None) -> dict:
    from genmodels.tracking.runs import model_run, write_run_file

    p = params(root, params_file)
    job = prepared_job(root, p, name)
    ckpt_run, store = run_name(root, job), run_store(root, p)
    backend = resolve_backend(p.scaling)
    log(f"train {name}: family={job.family} backend={backend} workers={p.scaling.num_workers} run={ckpt_run}")
    out_dir = root / paths.model_dir(name)
    with model_run(root, p.experiment, name, out_dir / paths.RUN_FILE, new=True) as mlrun:
        section = {"family": job.family, "model": job.model_config.model_dump(mode="json"), "fit": job.fit.model_dump(mode="json")}
        mlrun.log_params({"model": name, "seed": p.seed, "data": p.data.model_dump(mode="json"), "scaling": p.scaling.model_dump(mode="json"), name: section})
        mlrun.set_tags({"genmodels.family": job.family, "genmodels.backend": backend, "genmodels.ray_run": ckpt_run})
        t0 = time.perf_counter()
        try:
            final = fit(job, read_samples(root / paths.TRAIN), p.scaling, store, ckpt_run, backend)
            wall = time.perf_counter() - t0
            with deferring() as hold, staged_dir(out_dir) as tmp:
                history = export_checkpoint(final, tmp, backend, paths.HISTORY_FILE)
                write_run_file(tmp / paths.RUN_FILE, mlrun)
                extras = train_variants(root, p, job, store, backend, tmp)  # seeds: and evaluate.holdout_class
                hold()  # the swap into models/<model>/ completes before a signal takes effect
        except TrainingInterrupted as exc:
            raise interrupted(exc, job, store, ckpt_run, backend, root) from None
        mlrun.log_history(history)
        summary = summarize(history, wall)
        mlrun.log_metrics({**summary, **extras})
        mlrun.log_artifact(out_dir, "checkpoint")
    kept = f", kept epoch {summary['best_epoch']} (val NLL {summary[f'best_{VAL_KEY}']:.4f} bits/dim)" if "best_epoch" in summary else ""
    log(f"train {name}: {len(history)} epochs{kept}, {summary['train_seconds']:.1f}s training, {wall:.1f}s wall")
    return summary
