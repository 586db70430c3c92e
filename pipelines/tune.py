"""``genmodels tune``: a Ray Tune search over one model, recorded in MLflow.

One parent run per search, one child run per trial (through an ``mlflow server``, started
here over the project's store unless ``MLFLOW_TRACKING_URI`` already names one). The search
lives under ``.ray_runs/tune-<model>-<hash>``; ``--resume`` continues an interrupted one.
The result, with the best configuration, goes to ``reports/tune-<model>.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

from genmodels.atomic import write_json
from genmodels.data import read_samples
from genmodels.device import resolve_device
from genmodels.errors import ConfigError, GenmodelsError
from genmodels.metrics.features import load_extractor
from genmodels.metrics.reference import load_reference, real_features
from genmodels.metrics.registry import tune_objectives
from genmodels.training.tune_config import TuneConfig
from pipelines import paths
from pipelines.common import check_evaluator, log, params, stable_hash, storage_path
from pipelines.train import build_job


def check_objective(cfg: TuneConfig) -> None:
    allowed = tune_objectives()
    if cfg.metric not in allowed and not cfg.metric.startswith("loss/"):
        raise ConfigError(f"tune.metric: {cfg.metric!r} is not a per-epoch sample metric ({', '.join(allowed)}) or a training loss (loss/<group>)")


def make_tuner(trainable, cfg: TuneConfig, epochs: int, seed: int, name: str, storage: str):  # noqa: ANN001, ANN201
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
    from ray.tune.search import BasicVariantGenerator

    from genmodels.training.tune_adapter import search_space

    if cfg.scheduler == "asha":
        scheduler = ASHAScheduler(time_attr="training_iteration", grace_period=min(cfg.grace_period, epochs), max_t=max(epochs, 1))
    else:
        scheduler = FIFOScheduler()
    return tune.Tuner(
        trainable,
        param_space=search_space(cfg.space),
        tune_config=tune.TuneConfig(metric=cfg.metric, mode=cfg.mode, num_samples=cfg.num_samples, scheduler=scheduler,
                                    max_concurrent_trials=cfg.max_concurrent_trials, search_alg=BasicVariantGenerator(random_state=seed)),  # fmt: skip
        run_config=tune.RunConfig(name=name, storage_path=storage, checkpoint_config=tune.CheckpointConfig(num_to_keep=1)),
    )


def run(root: Path, model: str, params_file: str | None, address: str | None, num_samples: int | None, resume: bool) -> dict:
    from ray import tune

    from genmodels.tracking.mlflow_adapter import tracking_server
    from genmodels.tracking.tune_runs import finish_search, start_search
    from genmodels.training.ray_adapter import ensure_ray
    from genmodels.training.tune_adapter import trial_fn

    p = params(root, params_file)
    cfg = p.tune if num_samples is None else p.tune.model_copy(update={"num_samples": num_samples})
    check_objective(cfg)
    job = build_job(root, p, model)
    train = read_samples(root / paths.TRAIN)
    extractor = load_extractor(root / paths.EVALUATOR)
    check_evaluator(root / paths.EVALUATOR, job.info)
    ref = load_reference(root / paths.REFERENCE)
    real = real_features(ref)
    spec = {"name": extractor.name, "kwargs": extractor.kwargs, "state": {k: v.cpu() for k, v in extractor.state_dict().items()}}
    name = f"tune-{model}-{stable_hash([*job.fingerprint(), cfg.model_dump(mode='json')])[:12]}"
    storage = storage_path(root, p.scaling.storage_path)
    exp_path = f"{storage}/{name}"
    exists = tune.Tuner.can_restore(exp_path)
    if exists and not resume:
        raise GenmodelsError(f"a search with these params exists at {exp_path}: pass --resume to continue it (or remove the folder)")

    ensure_ray(address)
    with tracking_server(root) as uri:
        section = {"model": job.model_config.model_dump(mode="json"), "fit": job.fit.model_dump(mode="json")}
        tracking = start_search(uri, root, p.experiment, name, model, {"tune": cfg.model_dump(mode="json"), model: section})
        gpus = cfg.gpus_per_trial if resolve_device(cfg.gpus_per_trial > 0).type == "cuda" or address else 0
        trainable = tune.with_resources(
            tune.with_parameters(trial_fn, job=job, data=(train.x, train.y), extractor_spec=spec, real=real,
                                 tune_cfg=cfg, eval_cfg=p.evaluate, tracking=tracking),  # fmt: skip
            {"cpu": cfg.cpus_per_trial, "gpu": gpus},
        )
        if exists:
            log(f"tune {model}: resuming {exp_path}")
            tuner = tune.Tuner.restore(exp_path, trainable=trainable, resume_errored=True)
        else:
            tuner = make_tuner(trainable, cfg, job.fit.epochs, p.seed, name, storage)
        results = tuner.fit()
        rows = [{"trial": r.path.rsplit("/", 1)[-1], "config": r.config, cfg.metric: r.metrics[cfg.metric], "epochs": r.metrics.get("training_iteration")}
                for r in results if r.metrics and cfg.metric in r.metrics]  # fmt: skip
        if not rows:
            finish_search(tracking)
            raise GenmodelsError(f"tune {model}: no trial reported {cfg.metric!r} (see {exp_path})")
        best = (min if cfg.mode == "min" else max)(rows, key=lambda r: r[cfg.metric])
        finish_search(tracking, cfg.metric, best[cfg.metric], best["config"])
    summary = {"model": model, "metric": cfg.metric, "mode": cfg.mode, "search": exp_path, "best": best, "trials": rows}
    write_json(root / paths.REPORTS / f"tune-{model}.json", json.loads(json.dumps(summary, default=float)))
    log(f"tune {model}: best {cfg.metric}={best[cfg.metric]:.4g} with {best['config']} ({len(rows)} trials) -> reports/tune-{model}.json")
    return summary
