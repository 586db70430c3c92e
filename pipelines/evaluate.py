"""Stage ``evaluate@<model>``: every registered metric -> metrics/<model>.json and MLflow
(the restoration keys from restore@<model>'s restorations/<model>.json, when it ran)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import yaml

from genmodels.atomic import write_json, write_npz
from genmodels.config import Params
from genmodels.data import read_samples
from genmodels.device import resolve_device
from genmodels.errors import DataError
from genmodels.metrics.builtin.model_based import UNIFORM_FLAG
from genmodels.metrics.config import EvaluateConfig
from genmodels.metrics.features import load_extractor
from genmodels.metrics.reference import load_reference, real_features
from genmodels.metrics.seeds import MEAN_SUFFIX, SD_SUFFIX, across_seeds, headline_keys
from genmodels.metrics.suite import MetricReport, evaluate
from genmodels.models.core.base import GenerativeModel
from genmodels.sampling import draw
from genmodels.training.checkpoint import load_model
from pipelines import paths
from pipelines.common import check_evaluator, load_info, log, params, stable_hash
from pipelines.summary import headline
from pipelines.variants import load_variant, seed_variants


def dvc_lock_tags(root: Path, name: str) -> dict[str, str]:
    """Hashes of this model's upstream entries in dvc.lock (written by DVC as stages finish)."""
    lock_file = root / "dvc.lock"
    if not lock_file.is_file():
        return {}
    stages = (yaml.safe_load(lock_file.read_text()) or {}).get("stages", {})
    tags = {}
    for stage in ("prepare", "evaluator", f"train@{name}", f"sample@{name}"):
        if stage in stages:
            tags[f"dvc_lock.{stage.replace('@', '.')}"] = stable_hash(stages[stage])[:16]
    return tags


def read_history(model_dir: Path) -> list[dict]:
    return json.loads((model_dir / paths.HISTORY_FILE).read_text())


def read_restoration(root: Path, name: str) -> dict | None:
    """restore@<model>'s results (restorations/<model>.json), or None when it has not run
    (its keys are then null with the reason)."""
    path = root / paths.restore_results_file(name)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not JSON ({exc}); rerun restore@{name}") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object of restoration results; rerun restore@{name}")
    return data


def across_seeds_of(root: Path, p: Params, name: str, first: dict[str, float | None], score: Callable[..., MetricReport]) -> dict:
    """Every extra seed's model scored like the first (its samples drawn as sample@<m> would
    under ``seed: s``; no bootstrap, the seeds' spread is the point), then mean and sd per
    headline metric (:func:`genmodels.metrics.seeds.across_seeds`); ``{}`` for one seed."""
    if len(p.seeds) < 2:
        return {}
    cfg = p.evaluate.model_copy(update={"bootstrap": 0, "holdout_class": None})
    device = resolve_device(p.scaling.use_gpu)
    model_dir = root / paths.model_dir(name)
    per_seed = {p.seeds[0]: first}
    for v in seed_variants(p):
        model = load_variant(model_dir, v.folder, device)
        if model is None:
            raise DataError(f"{model_dir / v.folder}: no model for {v.label} (run train@{name} with seeds: {p.seeds})")
        log(f"evaluate {name}: {v.label}")
        per_seed[v.seed] = score(draw(model, p.sample, v.seed), model, read_history(model_dir / v.folder), cfg).metrics
    return across_seeds(per_seed, headline_keys())


def run(root: Path, name: str, params_file: str | None = None) -> dict:
    from genmodels.tracking.presentation import NOTE_TAG
    from genmodels.tracking.runs import closed_run

    started = time.perf_counter()
    p = params(root, params_file)
    info = load_info(root)
    device = resolve_device(p.scaling.use_gpu)
    model_dir = root / paths.model_dir(name)
    model = load_model(model_dir, device)
    extractor = load_extractor(root / paths.EVALUATOR, device)
    check_evaluator(root / paths.EVALUATOR, info)
    ref = load_reference(root / paths.REFERENCE)
    fake = read_samples(root / paths.samples_file(name))
    if fake.shape != tuple(info.shape):
        raise DataError(f"{paths.samples_file(name)}: sample shape {list(fake.shape)} != dataset shape {list(info.shape)}")
    test, train = read_samples(root / paths.TEST), read_samples(root / paths.TRAIN)
    holdout = load_variant(model_dir, paths.HOLDOUT_SUBDIR, device) if p.evaluate.holdout_class is not None else None

    def score(x: np.ndarray, m: GenerativeModel, history: list[dict], cfg: EvaluateConfig, holdout_model: GenerativeModel | None = None,
              restoration: dict | None = None) -> MetricReport:  # fmt: skip
        return evaluate(real_features(ref), x, extractor, info, cfg, p.seed, real_labels=ref.get("labels"), model=m, test_x=test.x,
                        test_y=test.y, history=history, train_x=train.x, train_features=ref.get("train_features"), holdout_model=holdout_model,
                        restoration=restoration)[0]  # fmt: skip

    report = score(fake.x, model, read_history(model_dir), p.evaluate, holdout, read_restoration(root, name))
    result = report.as_json()
    seeds = across_seeds_of(root, p, name, report.metrics, score)
    if seeds:
        notes = {**result.pop("notes"), **seeds.pop("notes")}
        result = {**result, **seeds, "notes": notes}
    write_json(root / paths.metrics_file(name), result)
    write_npz(root / paths.resamples_file(name), report.arrays)  # the bootstrap's per-resample values (empty when intervals are off)
    # into the training run without reopening it: the run's duration stays the training time
    with closed_run(root, p.experiment, name, model_dir / paths.RUN_FILE) as mlrun:
        mlrun.log_metrics({**report.metrics, **report.extra, **{k: v for k, v in seeds.items() if k.endswith((MEAN_SUFFIX, SD_SUFFIX))}})
        mlrun.set_tags({**dvc_lock_tags(root, name), NOTE_TAG: headline(result)})
        mlrun.log_artifact(root / paths.metrics_file(name), "metrics")
        if (root / paths.samples_png(name)).is_file():
            mlrun.log_artifact(root / paths.samples_png(name), "samples")
        if (root / paths.figures_dir(name)).is_dir():
            mlrun.log_artifact(root / paths.figures_dir(name), "figures")
        mlrun.log_metrics({"evaluate_seconds": time.perf_counter() - started})
    shown = ", ".join(f"{k}={v:.4g}" for k, v in report.metrics.items() if v is not None)
    log(f"evaluate {name}: {shown}")
    if result.get(UNIFORM_FLAG):
        log(f"evaluate {name}: WARNING nll_bits_per_dim: {result['notes']['nll_bits_per_dim']}")
    return result
