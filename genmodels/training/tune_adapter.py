"""Ray Tune search over one model section, trials recorded as MLflow child runs.

Every trial runs the same :func:`train_worker` in-process inside its Tune actor, through a
:class:`TuneContext` that reports each epoch to Tune (with a checkpoint, so ``--resume``
continues interrupted trials) and, when the metric is a sample metric, first draws
``eval_samples`` samples from the epoch's checkpoint and scores them against the real
reference features (FID or KID). ASHA can therefore stop weak trials on the metric users
compare models by, not on a training loss.
"""

from __future__ import annotations

import copy
import math
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genmodels.config import SearchDim, TuneConfig
from genmodels.metrics.features import FEATURE_EXTRACTORS, FeatureExtractor, extract
from genmodels.metrics.fid import fid_from_features
from genmodels.metrics.kid import kid_from_features
from genmodels.training import checkpoint as ckpt
from genmodels.training.loop import Restored, TrainJob, restore_dir, train_worker

SAMPLE_METRICS = ("fid", "kid")


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
    """``{"fit.lr": 1e-3, "model.latent_dim": 8}`` applied to a job's model/fit mappings."""
    model, fit = copy.deepcopy(job.model_config), copy.deepcopy(job.fit)
    for key, value in overrides.items():
        target = model if key.startswith("model.") else fit
        *parents, leaf = key.split(".")[1:]
        for p in parents:
            target = target.setdefault(p, {})
        target[leaf] = value.item() if isinstance(value, np.generic) else value
    return replace(job, model_config=model, fit=fit)


class TuneContext:
    """WorkerContext for a Tune trial: one rank, per-epoch reports with checkpoints."""

    rank = 0
    world_size = 1

    def __init__(self, score: Callable[[Path], dict[str, float]], log: Callable[[dict[str, float]], None]) -> None:
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
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


def sample_scorer(metric: str, extractor: FeatureExtractor, real_features: np.ndarray, n: int, seed: int) -> Callable[[Path], dict[str, float]]:
    """Score a checkpoint folder by FID or KID of ``n`` fresh samples (no-op for loss metrics)."""
    if metric not in SAMPLE_METRICS:
        return lambda path: {}

    def score(path: Path) -> dict[str, float]:
        model = ckpt.load_model(path)
        with torch.no_grad():
            x = model.sample(n, torch.Generator().manual_seed(seed)).float().cpu().numpy()
        if model.info.kind == "image":
            x = np.clip(x, 0.0, 1.0)
        if not np.isfinite(x).all():
            return {metric: math.inf}
        fake = extract(extractor, x, ("features",))["features"]
        if metric == "fid":
            return {"fid": fid_from_features(real_features, fake)}
        size = min(1000, len(real_features), len(fake))
        return {"kid": kid_from_features(real_features, fake, subsets=20, subset_size=size, seed=seed)[0]}

    return score


def trial_fn(config: dict[str, Any], job: TrainJob, data: tuple, extractor_spec: dict, real_features: np.ndarray, tune_cfg: dict, tracking: dict) -> None:
    """The Tune trainable: train ``job`` with this trial's overrides, reporting every epoch."""
    import genmodels.metrics.extractors  # noqa: F401
    from ray import tune

    cfg = TuneConfig.model_validate(tune_cfg)
    extractor = FEATURE_EXTRACTORS.get(extractor_spec["name"])(**extractor_spec["kwargs"])
    extractor.load_state_dict(extractor_spec["state"])
    extractor.eval()
    trial_job = apply_overrides(job, config)
    score = sample_scorer(cfg.metric, extractor, real_features, cfg.eval_samples, job.seed)
    context = tune.get_context()
    with child_run(tracking, context.get_trial_name(), context.get_trial_id(), config) as log:
        train_worker(trial_job, data[0], data[1], TuneContext(score, log))


class child_run:  # noqa: N801 - used as a context manager
    """An MLflow child run under the search's parent run (skipped without tracking)."""

    def __init__(self, tracking: dict, name: str, trial_id: str, config: dict[str, Any]) -> None:
        self.tracking, self.name, self.trial_id, self.config = tracking, name, trial_id, config
        self.client = None
        self.epochs_run = 0

    def __enter__(self) -> Callable[[dict[str, float]], None]:
        if not self.tracking:
            return lambda metrics: None
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=self.tracking["uri"])
        exp, parent = self.tracking["experiment_id"], self.tracking["parent_run_id"]
        found = self.client.search_runs([exp], filter_string=f"tags.`genmodels.trial_id` = '{self.trial_id}'", max_results=1)
        if found:
            self.run_id = found[0].info.run_id
        else:
            run = self.client.create_run(exp, run_name=self.name, tags={"mlflow.parentRunId": parent, "genmodels.trial_id": self.trial_id})
            self.run_id = run.info.run_id
            for k, v in self.config.items():
                self.client.log_param(self.run_id, k, v)

        def log(metrics: dict[str, float]) -> None:
            step = int(metrics.get("epoch", 0))
            self.epochs_run = step + 1
            for k, v in metrics.items():
                if k != "epoch" and isinstance(v, (int, float)) and math.isfinite(v):
                    self.client.log_metric(self.run_id, k.replace("/", "_"), float(v), step=step)

        return log

    def __exit__(self, exc_type, exc, tb) -> None:  # noqa: ANN001
        if self.client is None:
            return
        # Tune ends a trial it stops (ASHA, or after the last report) with SystemExit(0).
        stopped = isinstance(exc, SystemExit) and not exc.code
        if exc is not None and not stopped:
            self.client.set_tag(self.run_id, "error", f"{type(exc).__name__}: {exc}"[:2000])
        self.client.set_tag(self.run_id, "genmodels.epochs_run", str(self.epochs_run))
        self.client.set_terminated(self.run_id, "FINISHED" if exc is None or stopped else "FAILED")
