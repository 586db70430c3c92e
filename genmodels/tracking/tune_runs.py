"""MLflow records of a Ray Tune search: one parent run per search, one child run per trial.

Trials write through an ``mlflow server`` (see :func:`genmodels.tracking.server.tracking_server`),
never many processes on one SQLite file. ``tracking`` dicts (uri, experiment id, parent run
id) travel to the trials; an empty one turns recording off.

The parent run is tagged ``genmodels.search=<search name>``, so a resumed search finds and
reopens it instead of opening a second one; a child run is tagged with its Tune trial id, so
a resumed trial continues its own run. Trials cannot end their runs reliably (Tune kills the
actor of a trial it stops), so the driver ends every child run from the search's results
(:func:`finish_trials`): FINISHED when the trial trained to the end, KILLED with
``genmodels.outcome=stopped_early`` when the scheduler stopped it, FAILED when it raised.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from genmodels.tracking.experiments import ensure_experiment
from genmodels.tracking.runs import Run
from genmodels.tracking.store import artifact_location, store_lock, user_tracking_uri

SEARCH_TAG = "genmodels.search"
TRIAL_TAG = "genmodels.trial_id"
OUTCOME_TAG = "genmodels.outcome"  # completed | stopped_early | failed
BEST_TAG = "genmodels.best"
STATE_TAG = "genmodels.state"  # running | interrupted | finished | failed (the parent run)
STATUS = {"completed": "FINISHED", "stopped_early": "KILLED", "failed": "FAILED"}


def _client(uri: str):
    import os

    # MLflow's usage telemetry (nothing leaves this machine anyway) unsets an environment
    # variable from several threads at once and can fail a request with KeyError; off here.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _retry(call: Callable[[], Any], attempts: int = 3) -> Any:
    """``call()``, tried again after a short pause when the tracking request fails (a busy server)."""
    import time

    from mlflow.exceptions import MlflowException

    for attempt in range(attempts):
        try:
            return call()
        except MlflowException:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 * (attempt + 1))


def find_parent(uri: str, experiment_id: str, search: str) -> str | None:
    """Run id of the newest parent run of ``search`` in the experiment, or None."""
    found = _client(uri).search_runs([experiment_id], filter_string=f"tags.`{SEARCH_TAG}` = '{search}'", order_by=["attributes.start_time DESC"], max_results=1)
    return found[0].info.run_id if found else None


def start_search(uri: str, root: Path, experiment: str, search: str, model: str, params: Mapping[str, Any], reuse: bool = False) -> dict[str, str]:
    """Open the search's parent run (with ``reuse``: the existing one of ``search``, reopened); returns the ``tracking`` dict for trials."""
    client = _client(uri)
    with store_lock(uri):
        exp = client.get_experiment_by_name(experiment)
        if exp is None and user_tracking_uri() is None:
            # the server started here stands in for the project's SQLite store: keep artifacts where
            # the stages' own runs (which open the store directly) can write to them too
            client.create_experiment(experiment, artifact_location=artifact_location(root))
    exp_id = ensure_experiment(uri, root, experiment)
    run_id = find_parent(uri, exp_id, search) if reuse else None
    if run_id is None:
        parent = client.create_run(exp_id, run_name=f"tune-{model}", tags={SEARCH_TAG: search, "genmodels.model": model})
        run_id = parent.info.run_id
        Run(client, run_id).log_params(params)
    else:
        client.update_run(run_id, status="RUNNING")
    client.set_tag(run_id, STATE_TAG, "running")
    return {"uri": uri, "experiment_id": exp_id, "parent_run_id": run_id}


def child_runs(tracking: Mapping[str, str]) -> dict[str, Any]:
    """The search's child runs by trial id."""
    client = _client(tracking["uri"])
    runs = client.search_runs([tracking["experiment_id"]], filter_string=f"tags.`mlflow.parentRunId` = '{tracking['parent_run_id']}'", max_results=10_000)
    return {r.data.tags.get(TRIAL_TAG): r for r in runs}


def finish_trials(tracking: Mapping[str, str], outcomes: Mapping[str, tuple[str, dict[str, str]]], best: str | None) -> None:
    """End every child run by its trial's outcome (``{trial_id: (outcome, tags)}``); tag the best trial."""
    client = _client(tracking["uri"])
    for trial_id, run in child_runs(tracking).items():
        if trial_id not in outcomes:
            continue
        outcome, tags = outcomes[trial_id]
        for k, v in {OUTCOME_TAG: outcome, **tags}.items():
            client.set_tag(run.info.run_id, k, str(v)[:5000])
        if trial_id == best:
            client.set_tag(run.info.run_id, BEST_TAG, "true")
        elif BEST_TAG in run.data.tags:
            client.delete_tag(run.info.run_id, BEST_TAG)
        client.set_terminated(run.info.run_id, STATUS[outcome])


def log_trial_metrics(tracking: Mapping[str, str], trial_id: str, metrics: Mapping[str, float]) -> None:
    """Summary metrics (e.g. the test-split scores of a best trial) on a trial's child run."""
    run = child_runs(tracking).get(trial_id)
    if run is not None:
        client = _client(tracking["uri"])
        for k, v in metrics.items():
            if v is not None and math.isfinite(v):
                client.log_metric(run.info.run_id, k, float(v))


def interrupt_search(tracking: Mapping[str, str]) -> None:
    """Mark the parent run interrupted (KILLED); ``--resume`` reopens it."""
    client = _client(tracking["uri"])
    client.set_tag(tracking["parent_run_id"], STATE_TAG, "interrupted")
    client.set_terminated(tracking["parent_run_id"], "KILLED")


def finish_search(tracking: Mapping[str, str], metrics: Mapping[str, float] | None = None, best: Mapping[str, Any] | None = None) -> None:
    """Record the best trial on the parent run and end it: FINISHED with a best trial, FAILED without.

    The best configuration goes into tags (``genmodels.best.<key>``), not params: a resumed
    search may find another best, and MLflow params cannot change.
    """
    client = _client(tracking["uri"])
    run_id = tracking["parent_run_id"]
    if not metrics:
        client.set_tag(run_id, STATE_TAG, "failed")
        client.set_terminated(run_id, "FAILED")
        return
    for k, v in metrics.items():
        if v is not None and math.isfinite(v):
            client.log_metric(run_id, k, float(v))
    for k, v in (best or {}).items():
        client.set_tag(run_id, f"{BEST_TAG}.{k}", str(v))
    client.set_tag(run_id, STATE_TAG, "finished")
    client.set_terminated(run_id, "FINISHED")


class child_run:
    """An MLflow child run under the search's parent run (skipped without tracking).

    A resumed trial reopens its run (found by trial id), skips the epochs it had logged
    already, and the run stays RUNNING until the driver ends it; an exception ends it FAILED
    with the error as a tag.
    """

    def __init__(self, tracking: dict, name: str, trial_id: str, config: dict[str, Any], tags: dict[str, str] | None = None) -> None:
        self.tracking, self.name, self.trial_id, self.config, self.tags = tracking, name, trial_id, config, tags or {}
        self.client = None
        self.logged: set[int] = set()

    def __enter__(self) -> Callable[[dict[str, float]], None]:
        if not self.tracking:
            return lambda metrics: None
        from mlflow.entities import Param, RunTag

        self.client = client = _client(self.tracking["uri"])
        exp, parent = self.tracking["experiment_id"], self.tracking["parent_run_id"]

        def find() -> Any:
            found = client.search_runs([exp], filter_string=f"tags.`{TRIAL_TAG}` = '{self.trial_id}'", max_results=1)
            return found[0] if found else None

        existing = _retry(find)
        if existing is not None:
            self.run_id = existing.info.run_id
            client.update_run(self.run_id, status="RUNNING")
            self.logged = {m.step for m in client.get_metric_history(self.run_id, "epoch_seconds")}
        else:  # a retried create first looks for the run an earlier attempt may have made
            run = _retry(lambda: find() or client.create_run(exp, run_name=self.name, tags={"mlflow.parentRunId": parent, TRIAL_TAG: self.trial_id}))
            self.run_id = run.info.run_id
            params = [Param(k, str(v.item() if hasattr(v, "item") else v)) for k, v in self.config.items()]
            _retry(lambda: client.log_batch(self.run_id, params=params))
        if self.tags:
            _retry(lambda: client.log_batch(self.run_id, tags=[RunTag(k, str(v)) for k, v in self.tags.items()]))

        def log(metrics: dict[str, float]) -> None:
            from mlflow.entities import Metric

            step = int(metrics.get("epoch", 0))
            if step in self.logged:
                return
            self.logged.add(step)
            stamp = _now_ms()
            batch = [Metric(k.replace("/", "_"), float(v), stamp, step) for k, v in metrics.items()
                     if k != "epoch" and isinstance(v, (int, float)) and math.isfinite(v)]  # fmt: skip
            try:  # a lost epoch of metrics must not fail the trial
                _retry(lambda: client.log_batch(self.run_id, metrics=batch))
            except Exception as exc:  # noqa: BLE001
                print(f"tune: could not log epoch {step} of trial {self.trial_id} to MLflow ({type(exc).__name__}: {exc})", flush=True)

        return log

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.client is None or exc is None or (isinstance(exc, SystemExit) and not exc.code):
            return  # finished or stopped by Tune: the driver ends the run from the results
        self.client.set_tag(self.run_id, "error", f"{type(exc).__name__}: {exc}"[:2000])
        self.client.set_tag(self.run_id, OUTCOME_TAG, "failed")
        self.client.set_terminated(self.run_id, "FAILED")


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)
