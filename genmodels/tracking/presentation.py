"""What the MLflow UI shows: the experiment's kind and saved view, and the tags that tell runs apart.

* An experiment is tagged as model training (the MLflow 3 UI picks its layout from
  ``mlflow.experimentKind``) and holds the runs table's saved view "Leaderboard".
* Runs are tagged with the pipeline state they come from (git commit, ``dvc.lock`` hash) and
  the DVC experiment they ran in, if any.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

EXPERIMENT_KIND_TAG = "mlflow.experimentKind"  # read by the MLflow 3 UI to pick its layout
EXPERIMENT_KIND = "custom_model_development"  # "model training" (without it the UI may open a GenAI page)
NOTE_TAG = "mlflow.note.content"  # the description shown at the top of a run's or experiment's page

# The runs table's saved view "Leaderboard" (Views menu; or ?viewStateShareKey=leaderboard): the
# headline metrics as the first columns, best FID first. The MLflow 3 UI keeps saved views as
# experiment tags ``mlflow.sharedViewState.<key>`` holding {name, createdAt, state: JSON text}.
VIEW_KEY = "leaderboard"
VIEW_TAG = f"mlflow.sharedViewState.{VIEW_KEY}"
VIEW_METRICS = ("fid", "fid_ci_low", "fid_ci_high", "nll_bits_per_dim", "is", "precision", "recall", "ppl", "train_seconds")

EXP_NAME_TAG = "dvc.exp_name"
EXP_BASELINE_TAG = "dvc.exp_baseline_rev"


def leaderboard_view() -> str:
    """The saved view's tag value."""
    state = {
        "searchFilter": "",
        "orderByKey": "metrics.`fid`",
        "orderByAsc": True,
        "selectedColumns": [f"metrics.`{k}`" for k in VIEW_METRICS] + ["tags.`genmodels.family`"],
    }
    return json.dumps({"name": "Leaderboard", "createdAt": 0, "updatedAt": 0, "state": json.dumps(state)})


def experiment_page(base_url: str, experiment_id: str) -> str:
    """The UI address of the experiment's runs in the model-training layout with the Leaderboard view."""
    return f"{base_url.rstrip('/')}/#/experiments/{experiment_id}/runs?workflowType=machine_learning&viewStateShareKey={VIEW_KEY}"


def mark_model_training(client: Any, experiment_id: str) -> None:
    """Tag the experiment as model training (the UI's layout for it) and save the runs table's
    Leaderboard view (:func:`leaderboard_view`)."""
    client.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
    client.set_experiment_tag(experiment_id, VIEW_TAG, leaderboard_view())


def git_commit(root: Path) -> str | None:
    """The commit checked out in ``root``, or None outside a git repository."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def dvc_lock_hash(root: Path) -> str | None:
    """A short sha256 of ``dvc.lock`` (the same lock, the same pipeline run), or None without one."""
    import hashlib

    lock = root / "dvc.lock"
    return hashlib.sha256(lock.read_bytes()).hexdigest()[:16] if lock.is_file() else None


def pipeline_tags(root: Path) -> dict[str, str]:
    """Tags that tell one pipeline run from another: the git commit (also under MLflow's own
    ``mlflow.source.git.commit``, shown in the UI) and the ``dvc.lock`` hash."""
    commit = git_commit(root)
    tags = {"git_commit": commit, "mlflow.source.git.commit": commit, "dvc_lock": dvc_lock_hash(root)}
    return {k: v for k, v in tags.items() if v}


def experiment_tags() -> dict[str, str]:
    """The DVC experiment a stage runs in (``dvc exp run``, queued or not): its name, as ``dvc exp
    show`` lists it, and the commit it started from (DVC sets ``DVC_EXP_NAME`` and
    ``DVC_EXP_BASELINE_REV`` for the stage commands of an experiment); empty outside one."""
    tags = {EXP_NAME_TAG: os.environ.get("DVC_EXP_NAME"), EXP_BASELINE_TAG: os.environ.get("DVC_EXP_BASELINE_REV")}
    return {k: v for k, v in tags.items() if v}
