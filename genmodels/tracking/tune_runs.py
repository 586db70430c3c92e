"""MLflow records of a Ray Tune search: one parent run per search, one child run per trial.

Trials write through an ``mlflow server`` (see :func:`genmodels.tracking.mlflow_adapter.tracking_server`),
never many processes on one SQLite file. ``tracking`` dicts (uri, experiment id, parent run
id) travel to the trials; an empty one turns recording off.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from genmodels.tracking.mlflow_adapter import ensure_experiment, flatten


def start_search(uri: str, root: Path, experiment: str, search: str, model: str, params: Mapping[str, Any]) -> dict[str, str]:
    """Create the search's parent run with its flattened ``params``; returns the ``tracking`` dict for trials."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp_id = ensure_experiment(uri, root, experiment)
    parent = client.create_run(exp_id, run_name=f"tune-{model}", tags={"genmodels.search": search, "genmodels.model": model})
    for k, v in flatten(params).items():
        client.log_param(parent.info.run_id, k, v)
    return {"uri": uri, "experiment_id": exp_id, "parent_run_id": parent.info.run_id}


def finish_search(tracking: Mapping[str, str], metric: str | None = None, value: float | None = None, config: Mapping[str, Any] | None = None) -> None:
    """Record the best trial on the parent run and end it: FINISHED with a best trial, FAILED without."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking["uri"])
    run_id = tracking["parent_run_id"]
    if metric is None or value is None:
        client.set_terminated(run_id, "FAILED")
        return
    client.log_metric(run_id, f"best_{metric}", float(value))
    for k, v in (config or {}).items():
        client.log_param(run_id, f"best.{k}", v)
    client.set_terminated(run_id, "FINISHED")


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
