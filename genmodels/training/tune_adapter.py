"""Ray Tune search over one model section, each trial recorded by the caller's tracker (MLflow child runs).

Every trial runs the same :func:`train_worker` in-process inside its Tune actor, through a
:class:`TuneContext` that reports each epoch to Tune (with a checkpoint, so ``--resume``
continues interrupted trials) and, when the metric is a sample metric, first draws
``eval_samples`` samples from the epoch's checkpoint and scores them against the
**validation** split's features (FID, KID, ...). ASHA can therefore stop weak trials on the
metric users compare models by, without the test split ever steering a choice; the test
split scores only the best trial(s), once, at the end (:func:`score_checkpoint`).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genmodels.device import resolve_device
from genmodels.metrics.config import EvaluateConfig
from genmodels.metrics.features import FEATURE_EXTRACTORS, FeatureExtractor, extract
from genmodels.metrics.registry import score_sample_metric, tune_objectives
from genmodels.sampling import draw_samples
from genmodels.training import checkpoint as ckpt
from genmodels.training import selection
from genmodels.training.loop import Restored, TrainJob, restore_dir, train_worker
from genmodels.training.tune_config import SearchDim, TuneConfig, set_dotted

COMPLETE_KEY = "trial_complete"  # reported with every epoch: 1.0 once the trial's training loop has finished

# records one trial: (trial name, trial id, config, tags) -> a context yielding the per-epoch metrics logger
TrialRun = Callable[[str, str, dict[str, Any], dict[str, str]], AbstractContextManager[Callable[[dict[str, float]], None]]]


def search_space(space: dict[str, SearchDim]) -> dict[str, Any]:
    """The ``tune.space`` section as Ray Tune distributions."""
    from ray import tune

    make = {"choice": tune.choice, "uniform": tune.uniform, "loguniform": tune.loguniform, "randint": tune.randint}
    return {key: make[dim.kind](dim.choice) if dim.kind == "choice" else make[dim.kind](*getattr(dim, dim.kind)) for key, dim in space.items()}


def make_searcher(cfg: TuneConfig, seed: int) -> Any:
    """Random search (seeded, so two searches with one seed try the same configurations) or Optuna's TPE,
    either running at most ``max_concurrent_trials`` at once."""
    if cfg.searcher == "optuna":
        from ray.tune.search import ConcurrencyLimiter
        from ray.tune.search.optuna import OptunaSearch

        return ConcurrencyLimiter(OptunaSearch(seed=seed), max_concurrent=cfg.max_concurrent_trials)
    from ray.tune.search import BasicVariantGenerator

    return BasicVariantGenerator(random_state=seed, max_concurrent=cfg.max_concurrent_trials)


def make_scheduler(cfg: TuneConfig, epochs: int) -> Any:
    """ASHA on the epochs (rungs at grace_period * reduction_factor^k), or FIFO (every trial to the end)."""
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    if cfg.scheduler == "fifo":
        return FIFOScheduler()
    return ASHAScheduler(
        time_attr="training_iteration", grace_period=min(cfg.grace_period, epochs), max_t=max(epochs, 1), reduction_factor=cfg.reduction_factor
    )


def trial_dirname(trial: Any) -> str:
    """Trial folders are named by the trial id, the key that ties them to their MLflow child run."""
    return str(trial.trial_id)


def apply_overrides(job: TrainJob, overrides: dict[str, Any]) -> TrainJob:
    """``{"fit.lr": 1e-3, "model.latent_dim": 8}`` applied to a job's model/fit configs (re-validated)."""
    from genmodels.configbase import validate

    section = {"model": job.model_config.model_dump(mode="json"), "fit": job.fit.model_dump(mode="json")}
    for key, value in overrides.items():
        section = set_dotted(section, key, value.item() if isinstance(value, np.generic) else value)
    model = validate(type(job.model_config), section["model"], f"{job.name}.model")
    return replace(job, model_config=model, fit=validate(type(job.fit), section["fit"], f"{job.name}.fit"))


class TuneContext:
    """WorkerContext for a Tune trial: one rank, per-epoch reports with checkpoints.

    It keeps the history it has seen so each report can say whether the loop is done
    (last epoch, or stopped early by validation): the driver tells a finished trial from one
    ASHA stopped by that flag.
    """

    rank = 0
    world_size = 1

    def __init__(self, job: TrainJob, score: Callable[[Path], dict[str, float]], log: Callable[[dict[str, float]], None]) -> None:
        self.device = resolve_device(torch.cuda.is_available())  # Ray exposes only the trial's GPUs
        self.job, self.score, self.log = job, score, log
        self.history: list[dict[str, float]] = []

    def restore(self) -> Restored | None:
        from ray import tune

        checkpoint = tune.get_checkpoint()
        if checkpoint is None:
            return None
        with checkpoint.as_directory() as d:
            restored = restore_dir(Path(d), self.device)
        self.history = list(restored.trainer_state["history"])
        return restored

    def complete(self, epoch: int) -> bool:
        """True when ``epoch`` is the loop's last (the final epoch, or validation stopped it)."""
        from genmodels.models.core.registry import model_class

        if epoch >= self.job.fit.epochs - 1 or model_class(self.job.family).direct_fit:
            return True
        return self.job.select == "best_val" and selection.stops(self.history, self.job.fit)

    def save(self, metrics: dict[str, float], write: Callable[[Path], None], final: bool) -> None:
        """Every epoch: a report with a checkpoint (ASHA decides on each; ``final`` is :meth:`complete`'s)."""
        from ray import tune

        self.history.append(metrics)
        with tempfile.TemporaryDirectory() as d:
            write(Path(d))
            full = {**metrics, **self.score(Path(d)), COMPLETE_KEY: float(self.complete(int(metrics["epoch"])))}
            self.log(full)
            tune.report(full, checkpoint=tune.Checkpoint.from_directory(d))


def load_extractor_spec(spec: dict) -> FeatureExtractor:
    """Rebuild the evaluator network inside a trial from its name, kwargs and state dict."""
    extractor = FEATURE_EXTRACTORS.get(spec["name"])(**spec["kwargs"])
    extractor.load_state_dict(spec["state"])
    return extractor.eval()


def sample_scorer(
    metric: str, extractor: FeatureExtractor, real: dict[str, np.ndarray], n: int, seed: int, cfg: EvaluateConfig
) -> Callable[[Path], dict[str, float]]:
    """Score a checkpoint folder by a sample metric of ``n`` fresh samples against ``real`` (no-op for loss metrics).

    The samples come from :func:`draw_samples` and the metric from the registry with the
    ``evaluate`` section's settings, so a trial is scored exactly as the pipeline would score it.
    """
    if metric not in tune_objectives():
        return lambda path: {}
    return lambda path: score_checkpoint(path, (metric,), extractor, real, n, seed, cfg)


def score_checkpoint(
    path: Path, keys: tuple[str, ...], extractor: FeatureExtractor, real: dict[str, np.ndarray], n: int, seed: int, cfg: EvaluateConfig
) -> dict[str, float]:
    """Per-epoch sample metrics ``keys`` of ``n`` samples drawn from the checkpoint at ``path``.

    Non-finite samples (a diverged decoder) score the worst value, so a search ranks them last.
    """
    model = ckpt.load_model(path)
    x = draw_samples(model, n, seed)
    objectives = tune_objectives()
    if not np.isfinite(x).all():
        return {k: math.inf if objectives[k] == "lower" else -math.inf for k in keys}
    fake = extract(extractor, x, tuple(real))
    return {k: score_sample_metric(k, real, fake, cfg, seed) for k in keys}


def trial_fn(
    config: dict[str, Any],
    job: TrainJob,
    data: tuple,
    extractor_spec: dict,
    real: dict[str, np.ndarray],
    tune_cfg: TuneConfig,
    eval_cfg: EvaluateConfig,
    trial_run: TrialRun,
) -> None:
    """The Tune trainable: train ``job`` with this trial's overrides, reporting every epoch.

    ``trial_run`` records the trial (the caller's tracker, e.g. an MLflow child run): it is
    entered with the trial's name, id, config and tags and yields the per-epoch metrics logger.
    A diverging trial (NaN loss) raises :class:`TrainingDiverged`: Tune marks that trial
    errored and the search goes on; the tracker sees the exception.
    """
    import ray
    from ray import tune

    trial_job = apply_overrides(job, config)
    score = sample_scorer(tune_cfg.metric, load_extractor_spec(extractor_spec), real, tune_cfg.eval_samples, job.seed, eval_cfg)
    context = tune.get_context()
    node = ray.get_runtime_context().get_node_id()
    with trial_run(context.get_trial_name(), context.get_trial_id(), config, {"genmodels.node_id": node}) as log:
        train_worker(trial_job, data[0], data[1], TuneContext(trial_job, score, log))
