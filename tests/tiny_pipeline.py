"""A tiny pipeline run for the report and MLflow UI tests: digits (300 rows), a VAE and a GMM,
every stage from prepare to report, in this process (imports paid once), into a temporary
project with its own MLflow store (``<root>/mlflow.db``, artifacts in ``<root>/mlartifacts``).

Built once per test session (:func:`tiny_project`) and shared: about 40 s on 2 cores.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

import yaml

EXPERIMENT = "tiny-ui"
#: The models a tiny project may train: a small VAE and a 3-component GMM (seconds each).
TINY_MODELS = {
    "vae": {"model": {"hidden": [32], "latent_dim": 4, "iw_samples": 2}, "fit": {"epochs": 2, "batch_size": 64}},
    "gmm": {"model": {"n_components": 3}},
    "independent": {},
}


def tiny_params(experiment: str, models: tuple[str, ...] = ("vae",), **sections: dict) -> dict:
    """params.yaml of a tiny project (digits, 300 rows; small models; few samples), with
    ``sections`` merged over the defaults (one level deep: ``evaluate={"bootstrap": 10}``)."""
    params = {
        "experiment": experiment,
        "seed": 0,
        "data": {"name": "digits", "limit": 300},
        "evaluator": {"epochs": 3},
        "scaling": {"backend": "local"},
        "models": {m: m for m in models},
        **{m: TINY_MODELS[m] for m in models if TINY_MODELS[m]},
        "sample": {"n": 200},
        "evaluate": {"ppl_samples": 50, "kid_subsets": 5, "throughput_samples": 50, "bootstrap": 50},
        "restore": {"n_images": 8, "importance_samples": 200},
    }
    for key, value in sections.items():
        params[key] = {**params[key], **value} if isinstance(params.get(key), dict) and isinstance(value, dict) else value
    return params


PARAMS = tiny_params(EXPERIMENT, ("vae", "gmm"))


@cache
def tiny_project() -> Path:
    """The root of a project after prepare → evaluator → train/sample/evaluate@{vae,gmm} → reference → report."""
    from pipelines import evaluate, evaluator, prepare, reference, report, sample, train

    root = Path(tempfile.mkdtemp(prefix="genmodels-tiny-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)  # gone when the test session ends
    (root / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)  # runs are tagged with the commit
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "tiny"], cwd=root, check=True)
    before = os.environ.pop("MLFLOW_TRACKING_URI", None)
    try:
        prepare.run(root)
        evaluator.run(root)
        for name in PARAMS["models"]:
            train.run(root, name)
            sample.run(root, name)
            evaluate.run(root, name)
        reference.run(root)
        report.run(root)
    finally:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        if before is not None:
            os.environ["MLFLOW_TRACKING_URI"] = before
    return root
