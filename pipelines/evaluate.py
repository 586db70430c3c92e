"""Stage ``evaluate@<model>``: every registered metric -> metrics/<model>.json and MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml

from genmodels.atomic import write_file, write_json
from genmodels.data import read_samples
from genmodels.device import resolve_device
from genmodels.errors import DataError
from genmodels.metrics.features import load_extractor
from genmodels.metrics.reference import load_reference, real_features
from genmodels.metrics.suite import evaluate
from genmodels.training.checkpoint import load_model
from pipelines import paths
from pipelines.common import load_info, log, params, stable_hash


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


def save_resamples(path: Path, arrays: dict) -> None:
    """The bootstrap's per-resample values (an empty file when intervals are off)."""
    write_file(path, lambda tmp: np.savez(tmp, **arrays))


def run(root: Path, name: str, params_file: str | None = None) -> dict:
    from genmodels.tracking.mlflow_adapter import model_run

    p = params(root, params_file)
    info = load_info(root)
    device = resolve_device(p.scaling.use_gpu)
    model_dir = root / paths.model_dir(name)
    model = load_model(model_dir, device)
    extractor = load_extractor(root / paths.EVALUATOR, device)
    ref = load_reference(root / paths.REFERENCE)
    fake = read_samples(root / paths.samples_file(name))
    if fake.shape != tuple(info.shape):
        raise DataError(f"{paths.samples_file(name)}: sample shape {list(fake.shape)} != dataset shape {list(info.shape)}")
    test, train = read_samples(root / paths.TEST), read_samples(root / paths.TRAIN)
    history = json.loads((model_dir / paths.HISTORY_FILE).read_text())
    report, _ = evaluate(real_features(ref), fake.x, extractor, info, p.evaluate, p.seed, real_labels=ref.get("labels"),
                         model=model, test_x=test.x, history=history, train_x=train.x, train_features=ref.get("train_features"))  # fmt: skip
    result = report.as_json()
    write_json(root / paths.metrics_file(name), result)
    save_resamples(root / paths.resamples_file(name), report.arrays)
    with model_run(root, p.experiment, name, model_dir / "mlflow.json", new=False) as mlrun:
        mlrun.log_metrics({**report.metrics, **report.extra})
        mlrun.set_tags(dvc_lock_tags(root, name))
        mlrun.log_artifact(root / paths.metrics_file(name), "metrics")
        if (root / paths.samples_png(name)).is_file():
            mlrun.log_artifact(root / paths.samples_png(name), "samples")
    shown = ", ".join(f"{k}={v:.4g}" for k, v in report.metrics.items() if v is not None)
    log(f"evaluate {name}: {shown}")
    return result
