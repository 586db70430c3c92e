"""A model's MLflow run: one per model per pipeline run, shared by its stages.

``train@<model>`` opens the run and keeps its id in a run file beside the checkpoint;
``evaluate@<model>`` logs into it again without reopening it (:func:`closed_run`), so the run's
duration stays the training time. A run whose process was killed outright is closed by the
next run of the same model (:func:`close_orphans`).
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from genmodels.tracking.experiments import connect, experiment_id, project_client
from genmodels.tracking.presentation import NOTE_TAG, experiment_tags, pipeline_tags


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested params -> ``{"a.b.c": "value"}`` (MLflow params are flat strings)."""
    out: dict[str, str] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, f"{key}."))
        else:
            out[key] = json.dumps(v) if isinstance(v, (list, tuple)) else str(v)
    return out


class Run:
    """A handle on one MLflow run, open or closed, that logs through ``MlflowClient.log_batch``
    in requests MLflow accepts (at most 100 params or tags, 1000 metrics each). Logging never
    changes the run's status or end time."""

    PARAMS_PER_REQUEST, TAGS_PER_REQUEST, METRICS_PER_REQUEST = 100, 100, 500

    def __init__(self, client: Any, run_id: str) -> None:
        self.client, self.run_id = client, run_id

    def _log_batch(self, field: str, items: list[Any], size: int) -> None:
        for i in range(0, len(items), size):
            self.client.log_batch(self.run_id, **{field: items[i : i + size]})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Nested params, flattened (:func:`flatten`)."""
        from mlflow.entities import Param

        self._log_batch("params", [Param(k, v) for k, v in flatten(params).items()], self.PARAMS_PER_REQUEST)

    def log_metrics(self, metrics: Mapping[str, float | None], step: int | None = None) -> None:
        """Finite values only (a ``None`` or NaN is left out); ``/`` in a name becomes ``_``."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k.replace("/", "_"), float(v), now, step or 0) for k, v in metrics.items() if v is not None and math.isfinite(float(v))]
        self._log_batch("metrics", items, self.METRICS_PER_REQUEST)

    def log_history(self, history: list[dict[str, float]]) -> None:
        """Per-epoch rows, each at its ``epoch`` as the step."""
        for row in history:
            self.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=int(row["epoch"]))

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        self._log_batch("tags", [RunTag(k, str(v)) for k, v in tags.items() if v is not None], self.TAGS_PER_REQUEST)

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        """A file, or a folder's contents, under ``artifact_path``."""
        if path.is_dir():
            self.client.log_artifacts(self.run_id, str(path), artifact_path=artifact_path)
        else:
            self.client.log_artifact(self.run_id, str(path), artifact_path=artifact_path)


def stored_run_id(client: Any, run_file: Path) -> str | None:
    """The run id in ``run_file`` when that run exists in the client's store (else None)."""
    if not run_file.is_file():
        return None
    run_id = json.loads(run_file.read_text()).get("run_id")
    try:
        client.get_run(run_id)
    except Exception:
        return None
    return run_id


def write_run_file(run_file: Path, run: Run) -> None:
    run_file.parent.mkdir(parents=True, exist_ok=True)
    run_file.write_text(json.dumps({"run_id": run.run_id}, indent=2) + "\n")


@contextmanager
def model_run(root: Path, experiment: str, model_name: str, run_file: Path, new: bool) -> Iterator[Run]:
    """Open (``new=True``: create, else reopen from ``run_file``) the model's run.

    An exception inside the block ends the run FAILED, or KILLED for an interruption
    (``KeyboardInterrupt``, or an error whose ``run_status`` is ``"KILLED"``, such as
    :class:`genmodels.training.interrupt.TrainingInterrupted`); the reason is the ``error``
    tag (``Type: message``) and the run's description (the message, as the CLI prints it).
    """
    mlflow = connect(root)
    exp_id = experiment_id(mlflow, root, experiment)
    mlflow.set_experiment(experiment_id=exp_id)
    client = mlflow.MlflowClient()
    run_id = None if new else stored_run_id(client, run_file)  # None when the store changed (another MLFLOW_TRACKING_URI)
    if new:
        close_orphans(client, exp_id, model_name)
    active = mlflow.start_run(run_id=run_id, run_name=None if run_id else model_name)
    run = Run(client, active.info.run_id)
    if run_id is None:
        owner = {"genmodels.host": socket.gethostname(), "genmodels.pid": str(os.getpid())}
        run.set_tags({"genmodels.model": model_name, **owner, **pipeline_tags(root), **experiment_tags()})
    try:
        yield run
    except BaseException as exc:
        end_failed(mlflow, exc)
        raise
    mlflow.end_run(status="FINISHED")


@contextmanager
def closed_run(root: Path, experiment: str, model_name: str, run_file: Path) -> Iterator[Run]:
    """Log evaluation results into the model's training run (from ``run_file``) without
    reopening it, so the run's duration stays the training time; an evaluation that fails
    leaves the run's status alone and records ``evaluate_error``. Without a stored run
    (another store, or no train stage) a new run is opened and closed as :func:`model_run` does."""
    client, _ = project_client(root, experiment)
    run_id = stored_run_id(client, run_file)
    if run_id is None:
        with model_run(root, experiment, model_name, run_file, new=True) as run:
            yield run
        return
    run = Run(client, run_id)
    try:
        yield run
    except BaseException as exc:
        run.set_tags({"evaluate_error": f"{type(exc).__name__}: {exc}"[:5000]})
        raise


def close_orphans(client: Any, experiment_id: str, model_name: str) -> None:
    """End as KILLED the model's runs still RUNNING whose process on this host is gone.

    A process killed outright (SIGKILL, the machine's OOM killer) cannot end its run; the next
    run of the same model closes it, with the reason as its note. Runs of another host, or whose
    process still exists, are left alone.
    """
    host = socket.gethostname()
    query = f"tags.`genmodels.model` = '{model_name}' and attributes.status = 'RUNNING' and tags.`genmodels.host` = '{host}'"
    for found in client.search_runs([experiment_id], filter_string=query):
        pid = int(found.data.tags.get("genmodels.pid", "0") or 0)
        if pid <= 0 or _alive(pid):
            continue
        note = f"the process (pid {pid} on {host}) ended without closing this run (killed); closed by the next run of {model_name}"
        client.set_tag(found.info.run_id, NOTE_TAG, note)
        client.set_tag(found.info.run_id, "error", f"ProcessKilled: {note}")
        client.set_terminated(found.info.run_id, status="KILLED")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def end_failed(mlflow: Any, exc: BaseException) -> None:
    """End the active run as FAILED or KILLED (see :func:`model_run`) with ``exc`` as the reason."""
    killed = isinstance(exc, KeyboardInterrupt) or getattr(exc, "run_status", None) == "KILLED"
    message = str(exc).strip().replace("\n", " ") or type(exc).__name__
    mlflow.set_tags({"error": f"{type(exc).__name__}: {message}"[:5000], NOTE_TAG: message[:5000]})
    mlflow.end_run(status="KILLED" if killed else "FAILED")
