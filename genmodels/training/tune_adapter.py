"""Ray Tune search over one model section, trials recorded as MLflow child runs.

Every trial runs the same :func:`train_worker` in-process inside its Tune actor, through a
:class:`TuneContext` that reports each epoch to Tune (with a checkpoint, so ``--resume``
continues interrupted trials) and, when the metric is a sample metric, first draws
``eval_samples`` samples from the epoch's checkpoint and scores them against the real
reference features (FID or KID). ASHA can therefore stop weak trials on the metric users
compare models by, not on a training loss.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
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
from genmodels.training.loop import Restored, TrainJob, restore_dir, train_worker
from genmodels.training.tune_config import SearchDim, TuneConfig


def search_space(space: dict[str, SearchDim]) -> dict[str, Any]:
    from ray import tune

    out: dict[str, Any] = {}
    for key, dim in space.items():
        if dim.choice is not None:
            out[key] = tune.choice(dim.choice)
        elif dim.uniform is not None:
            out[key] = tune.uniform(*dim.uniform)
        elif dim.loguniform is not None:
            out[key] = tune.loguniform(*dim.loguniform)
        else:
            out[key] = tune.randint(*dim.randint)  # type: ignore[misc]
    return out


def apply_overrides(job: TrainJob, overrides: dict[str, Any]) -> TrainJob:
    """``{"fit.lr": 1e-3, "model.latent_dim": 8}`` applied to a job's model/fit configs (re-validated)."""
    from genmodels.configbase import validate

    model, fit = job.model_config.model_dump(mode="json"), job.fit.model_dump(mode="json")
    for key, value in overrides.items():
        target = model if key.startswith("model.") else fit
        *parents, leaf = key.split(".")[1:]
        for p in parents:
            target = target.setdefault(p, {})
        target[leaf] = value.item() if isinstance(value, np.generic) else value
    return replace(job, model_config=validate(type(job.model_config), model, "model"), fit=validate(type(job.fit), fit, "fit"))


class TuneContext:
    """WorkerContext for a Tune trial: one rank, per-epoch reports with checkpoints."""

    rank = 0
    world_size = 1

    def __init__(self, score: Callable[[Path], dict[str, float]], log: Callable[[dict[str, float]], None]) -> None:
        self.device = resolve_device(torch.cuda.is_available())  # Ray exposes only the trial's GPUs
        self.score = score
        self.log = log

    def restore(self) -> Restored | None:
        from ray import tune

        checkpoint = tune.get_checkpoint()
        if checkpoint is None:
            return None
        with checkpoint.as_directory() as d:
            return restore_dir(Path(d), self.device)

    def save(self, metrics: dict[str, float], write: Callable[[Path], None]) -> None:
        from ray import tune

        with tempfile.TemporaryDirectory() as d:
            write(Path(d))
            full = {**metrics, **self.score(Path(d))}
            self.log(full)
            tune.report(full, checkpoint=tune.Checkpoint.from_directory(d))


def sample_scorer(
    metric: str, extractor: FeatureExtractor, real: dict[str, np.ndarray], n: int, seed: int, cfg: EvaluateConfig
) -> Callable[[Path], dict[str, float]]:
    """Score a checkpoint folder by a sample metric of ``n`` fresh samples (no-op for loss metrics).

    The samples come from :func:`draw_samples` and the metric from the registry with the
    ``evaluate`` section's settings, so a trial is scored exactly as the pipeline would score it.
    """
    if metric not in tune_objectives():
        return lambda path: {}

    def score(path: Path) -> dict[str, float]:
        model = ckpt.load_model(path)
        x = draw_samples(model, n, seed)
        if not np.isfinite(x).all():
            return {metric: math.inf}
        fake = extract(extractor, x, tuple(real))
        return {metric: score_sample_metric(metric, real, fake, cfg, seed)}

    return score


def trial_fn(
    config: dict[str, Any], job: TrainJob, data: tuple, extractor_spec: dict, real: dict[str, np.ndarray],
    tune_cfg: TuneConfig, eval_cfg: EvaluateConfig, tracking: dict,
) -> None:
    """The Tune trainable: train ``job`` with this trial's overrides, reporting every epoch."""
    from ray import tune

    import genmodels.metrics.extractors  # noqa: F401
    from genmodels.tracking.tune_runs import child_run

    extractor = FEATURE_EXTRACTORS.get(extractor_spec["name"])(**extractor_spec["kwargs"])
    extractor.load_state_dict(extractor_spec["state"])
    extractor.eval()
    trial_job = apply_overrides(job, config)
    score = sample_scorer(tune_cfg.metric, extractor, real, tune_cfg.eval_samples, job.seed, eval_cfg)
    context = tune.get_context()
    with child_run(tracking, context.get_trial_name(), context.get_trial_id(), config) as log:
        train_worker(trial_job, data[0], data[1], TuneContext(score, log))
