"""Opening the tracking store and setting up an experiment (created once, marked as model training).

One MLflow experiment per ``params.yaml`` experiment name; on the default store its artifacts
live in the project's ``mlartifacts/`` whatever the working directory. The steps that race
between processes run under :func:`~genmodels.tracking.store.store_lock`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from genmodels.tracking.presentation import mark_model_training
from genmodels.tracking.store import artifact_location, check_reachable, store_lock, tracking_uri, user_tracking_uri


def connect(root: Path) -> Any:
    """The ``mlflow`` module set to the project's store (:func:`~genmodels.tracking.store.tracking_uri`),
    its tables made; a tracking server that is down is one line (TrackingServerDown)."""
    import logging

    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    named = user_tracking_uri()
    uri = tracking_uri(root)
    check_reachable(uri)
    mlflow.set_tracking_uri(uri)
    if named is None:  # MLflow 3 also exports the URI to the environment; keep it ours, per root
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    with store_lock(uri):  # a new store's tables are made by one process; the others wait for them
        mlflow.MlflowClient().search_experiments(max_results=1)
    return mlflow


def experiment_id(mlflow: Any, root: Path, experiment: str) -> str:
    """Id of ``experiment`` in the store ``mlflow`` is set to, created if missing (on the default
    store with its artifacts in the project's ``mlartifacts/``) and marked as model training;
    under :func:`store_lock`, so two processes starting at once make one experiment."""
    client = mlflow.MlflowClient()
    with store_lock(mlflow.get_tracking_uri()):
        exp = client.get_experiment_by_name(experiment)
        if exp is not None:
            exp_id = exp.experiment_id
        else:
            # the default local store keeps artifacts beside mlflow.db, whatever the working directory
            location = artifact_location(root) if user_tracking_uri() is None else None
            exp_id = client.create_experiment(experiment, artifact_location=location)
        mark_model_training(client, exp_id)
    return exp_id


def project_client(root: Path, experiment: str) -> tuple[Any, str]:
    """A client on the project's store and the experiment's id (created, marked, artifacts under the root)."""
    mlflow = connect(root)
    return mlflow.MlflowClient(), experiment_id(mlflow, root, experiment)


def ensure_experiment(uri: str, root: Path, name: str) -> str:
    """Experiment id of ``name`` on ``uri``, created if missing (the server stores its artifacts)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    with store_lock(uri):
        exp = client.get_experiment_by_name(name)
        exp_id = exp.experiment_id if exp is not None else client.create_experiment(name)
        mark_model_training(client, exp_id)
    return exp_id
