"""The tracking package's public names in one import, for callers written against one module.

Each concern has its own module, and new code imports from there:
:mod:`~genmodels.tracking.store` (where runs are recorded, the cross-process lock, reachability),
:mod:`~genmodels.tracking.experiments` (opening the store, an experiment's set-up),
:mod:`~genmodels.tracking.runs` (a model's run and the one run handle),
:mod:`~genmodels.tracking.presentation` (the UI's experiment kind and saved view, pipeline tags),
:mod:`~genmodels.tracking.publish` (the report's description, tags, report run, model registry),
:mod:`~genmodels.tracking.server` (the one local ``mlflow server``),
:mod:`~genmodels.tracking.tune_runs` (a Tune search's parent and child runs).
"""

from __future__ import annotations

from genmodels.tracking.experiments import connect, ensure_experiment, experiment_id, project_client
from genmodels.tracking.presentation import (
    EXP_BASELINE_TAG,
    EXP_NAME_TAG,
    EXPERIMENT_KIND,
    EXPERIMENT_KIND_TAG,
    NOTE_TAG,
    VIEW_KEY,
    VIEW_METRICS,
    VIEW_TAG,
    dvc_lock_hash,
    experiment_page,
    experiment_tags,
    git_commit,
    leaderboard_view,
    mark_model_training,
    pipeline_tags,
)
from genmodels.tracking.publish import describe_experiment, download, log_report_run, register_version, tag_runs
from genmodels.tracking.runs import Run, close_orphans, closed_run, end_failed, flatten, model_run, stored_run_id, write_run_file
from genmodels.tracking.server import tracking_server
from genmodels.tracking.store import (
    TrackingServerDown,
    artifact_location,
    check_reachable,
    in_temporary_workspace,
    reachable,
    store_lock,
    store_root,
    tracking_uri,
    user_tracking_uri,
)

__all__ = [
    "EXPERIMENT_KIND", "EXPERIMENT_KIND_TAG", "EXP_BASELINE_TAG", "EXP_NAME_TAG", "NOTE_TAG", "VIEW_KEY", "VIEW_METRICS", "VIEW_TAG",
    "Run", "TrackingServerDown", "artifact_location", "check_reachable", "close_orphans", "closed_run", "connect", "describe_experiment",
    "download", "dvc_lock_hash", "end_failed", "ensure_experiment", "experiment_id", "experiment_page", "experiment_tags", "flatten",
    "git_commit", "in_temporary_workspace", "leaderboard_view", "log_report_run", "mark_model_training", "model_run", "pipeline_tags",
    "project_client", "reachable", "register_version", "stored_run_id", "store_lock", "store_root", "tag_runs", "tracking_server",
    "tracking_uri", "user_tracking_uri", "write_run_file",
]  # fmt: skip
