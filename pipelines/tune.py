"""``genmodels tune``: a Ray Tune search over one model section, recorded in MLflow.

One parent run per search, one child run per trial (through an ``mlflow server``, started
here over the project's store unless ``MLFLOW_TRACKING_URI`` already names one). The search
lives under ``.ray_runs/tune-<model>-<hash>``; ``--resume`` continues an interrupted one.
The result, with the best configuration, goes to ``reports/tune-<model>.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from genmodels.data import read_samples
from genmodels.errors import ConfigError, GenmodelsError
from genmodels.metrics.features import load_extractor
from genmodels.metrics.reference import load_reference
from pipelines import paths
from pipelines.common import log, params, stable_hash, storage_path, write_json
from pipelines.train import build_job


def run(root: Path, model: str, params_file: str | None, address: str | None, num_samples: int | None, resume: bool) -> dict:
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
    from ray.tune.search import BasicVariantGenerator

    from genmodels.tracking.mlflow_adapter import ensure_experiment, flatten, tracking_server
    from genmodels.training.ray_adapter import ensure_ray
    from genmodels.training.tune_adapter import search_space, trial_fn

    p = params(root, params_file)
    cfg = p.tune if num_samples is None else p.tune.model_copy(update={"num_samples": num_samples})
    job, _ = build_job(root, p, model)
    if cfg.metric not in ("fid", "kid") and not cfg.metric.startswith("loss/"):
        raise ConfigError(f"tune.metric: {cfg.metric!r} is not fid, kid or a training loss (loss/<group>)")
    train = read_samples(root / paths.TRAIN)
    extractor = load_extractor(root / paths.EVALUATOR)
    ref = load_reference(root / paths.REFERENCE)
    spec = {"name": extractor.name, "kwargs": extractor.kwargs, "state": {k: v.cpu() for k, v in extractor.state_dict().items()}}
    key = stable_hash([job.family, job.model_config, job.fit, job.seed, cfg.model_dump(mode="json")])[:12]
    name = f"tune-{model}-{key}"
    storage = storage_path(root, p.scaling.storage_path)
    exp_path = f"{storage}/{name}"
    exists = tune.Tuner.can_restore(exp_path)
    if exists and not resume:
        raise GenmodelsError(f"a search with these params exists at {exp_path}: pass --resume to continue it (or remove the folder)")

    ensure_ray(address)
    with tracking_server(root) as uri:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=uri)
        exp_id = ensure_experiment(uri, root, p.experiment)
        parent = client.create_run(exp_id, run_name=f"tune-{model}", tags={"genmodels.search": name, "genmodels.model": model})
        for k, v in flatten({"tune": cfg.model_dump(mode="json"), model: {"model": job.model_config, "fit": job.fit}}).items():
            client.log_param(parent.info.run_id, k, v)
        tracking = {"uri": uri, "experiment_id": exp_id, "parent_run_id": parent.info.run_id}
        trainable = tune.with_resources(
            tune.with_parameters(trial_fn, job=job, data=(train.x, train.y), extractor_spec=spec, real_features=ref["features"],
                                 tune_cfg=cfg.model_dump(mode="json"), tracking=tracking),  # fmt: skip
            {"cpu": cfg.cpus_per_trial, "gpu": cfg.gpus_per_trial if torch.cuda.is_available() or address else 0},
        )
        if exists:
            log(f"tune {model}: resuming {exp_path}")
            tuner = tune.Tuner.restore(exp_path, trainable=trainable, resume_errored=True)
        else:
            epochs = int(job.fit.get("epochs", 30))
            scheduler = (
                ASHAScheduler(time_attr="training_iteration", grace_period=min(cfg.grace_period, epochs), max_t=max(epochs, 1))
                if cfg.scheduler == "asha" else FIFOScheduler()
            )  # fmt: skip
            tuner = tune.Tuner(
                trainable,
                param_space=search_space(cfg.space),
                tune_config=tune.TuneConfig(metric=cfg.metric, mode=cfg.mode, num_samples=cfg.num_samples, scheduler=scheduler,
                                            max_concurrent_trials=cfg.max_concurrent_trials, search_alg=BasicVariantGenerator(random_state=p.seed)),  # fmt: skip
                run_config=tune.RunConfig(name=name, storage_path=storage, checkpoint_config=tune.CheckpointConfig(num_to_keep=1)),
            )
        results = tuner.fit()
        rows = []
        for r in results:
            if r.metrics and cfg.metric in r.metrics:
                rows.append({"trial": r.path.rsplit("/", 1)[-1], "config": r.config, cfg.metric: r.metrics[cfg.metric], "epochs": r.metrics.get("training_iteration")})
        if not rows:
            client.set_terminated(parent.info.run_id, "FAILED")
            raise GenmodelsError(f"tune {model}: no trial reported {cfg.metric!r} (see {exp_path})")
        best = (min if cfg.mode == "min" else max)(rows, key=lambda r: r[cfg.metric])
        client.log_metric(parent.info.run_id, f"best_{cfg.metric}", float(best[cfg.metric]))
        for k, v in best["config"].items():
            client.log_param(parent.info.run_id, f"best.{k}", v)
        client.set_terminated(parent.info.run_id, "FINISHED")
    summary = {"model": model, "metric": cfg.metric, "mode": cfg.mode, "search": exp_path, "best": best, "trials": rows}
    write_json(root / paths.REPORTS / f"tune-{model}.json", json.loads(json.dumps(summary, default=float)))
    log(f"tune {model}: best {cfg.metric}={best[cfg.metric]:.4g} with {best['config']} ({len(rows)} trials) -> reports/tune-{model}.json")
    return summary
