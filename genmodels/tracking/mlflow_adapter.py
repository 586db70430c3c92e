"""Record runs in MLflow: one run per model per pipeline run, shared by its stages.

``train@<model>`` opens the run and writes its id to ``models/<model>/mlflow.json``;
``evaluate@<model>`` reopens it (the sample stage does not touch MLflow; evaluate logs its
picture). Tune's parent and child runs live in :mod:`genmodels.tracking.tune_runs`. The
default store is ``sqlite:///mlflow.db`` at the
project root; ``MLFLOW_TRACKING_URI`` overrides it (use an ``mlflow server`` when many
processes write at once, e.g. Tune trials).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RUN_FILE = "mlflow.json"


def tracking_uri(root: Path) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(root / 'mlflow.db').resolve()}"


def user_tracking_uri() -> str | None:
    """The store the user named in ``MLFLOW_TRACKING_URI``, if any."""
    return os.environ.get("MLFLOW_TRACKING_URI") or None


def _mlflow(root: Path):  # noqa: ANN202
    import logging

    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    named = user_tracking_uri()
    mlflow.set_tracking_uri(tracking_uri(root))
    if named is None:  # MLflow 3 also exports the URI to the environment; keep it ours, per root
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    return mlflow


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


def git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


class Run:
    """A thin handle on an active MLflow run."""

    def __init__(self, mlflow: Any, run_id: str) -> None:
        self.mlflow, self.run_id = mlflow, run_id

    def log_params(self, params: Mapping[str, Any]) -> None:
        flat = flatten(params)
        items = list(flat.items())
        for i in range(0, len(items), 100):
            self.mlflow.log_params(dict(items[i : i + 100]))

    def log_metrics(self, metrics: Mapping[str, float | None], step: int | None = None) -> None:
        clean = {k.replace("/", "_"): float(v) for k, v in metrics.items() if v is not None and math.isfinite(float(v))}
        if clean:
            self.mlflow.log_metrics(clean, step=step)

    def log_history(self, history: list[dict[str, float]]) -> None:
        for row in history:
            self.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=int(row["epoch"]))

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self.mlflow.set_tags({k: str(v) for k, v in tags.items() if v is not None})

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        if path.is_dir():
            self.mlflow.log_artifacts(str(path), artifact_path=artifact_path)
        else:
            self.mlflow.log_artifact(str(path), artifact_path=artifact_path)


@contextmanager
def model_run(root: Path, experiment: str, model_name: str, run_file: Path, new: bool) -> Iterator[Run]:
    """Open (``new=True``: create, else reopen from ``run_file``) the model's run.

    An exception inside the block ends the run FAILED, or KILLED for an interruption
    (``KeyboardInterrupt``, or an error whose ``run_status`` is ``"KILLED"``, such as
    :class:`genmodels.training.interrupt.TrainingInterrupted`); the reason is the ``error``
    tag (``Type: message``) and the run's description (the message, as the CLI prints it).
    """
    mlflow = _mlflow(root)
    if mlflow.get_experiment_by_name(experiment) is None and user_tracking_uri() is None:
        # the default local store keeps artifacts beside mlflow.db, whatever the working directory
        mlflow.create_experiment(experiment, artifact_location=(root / "mlartifacts").resolve().as_uri())
    mlflow.set_experiment(experiment)
    run_id = None
    if not new and run_file.is_file():
        run_id = json.loads(run_file.read_text()).get("run_id")
        try:
            mlflow.get_run(run_id)
        except Exception:
            run_id = None  # the store changed (another MLFLOW_TRACKING_URI): start afresh
    active = mlflow.start_run(run_id=run_id, run_name=None if run_id else model_name)
    run = Run(mlflow, active.info.run_id)
    if run_id is None:
        run.set_tags({"genmodels.model": model_name, "git_commit": git_commit(root)})
    try:
        yield run
    except BaseException as exc:
        end_failed(mlflow, exc)
        raise
    mlflow.end_run(status="FINISHED")


def end_failed(mlflow: Any, exc: BaseException) -> None:
    """End the active run as FAILED or KILLED (see :func:`model_run`) with ``exc`` as the reason."""
    killed = isinstance(exc, KeyboardInterrupt) or getattr(exc, "run_status", None) == "KILLED"
    message = str(exc).strip().replace("\n", " ") or type(exc).__name__
    mlflow.set_tags({"error": f"{type(exc).__name__}: {message}"[:5000], "mlflow.note.content": message[:5000]})
    mlflow.end_run(status="KILLED" if killed else "FAILED")


def write_run_file(run_file: Path, run: Run) -> None:
    run_file.parent.mkdir(parents=True, exist_ok=True)
    run_file.write_text(json.dumps({"run_id": run.run_id}, indent=2) + "\n")


def _healthy(port: int) -> bool:
    """True when the server we started answers ``GET /health`` on 127.0.0.1:``port``."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/health")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


@contextmanager
def tracking_server(root: Path, timeout: float = 120.0) -> Iterator[str]:
    """Yield an HTTP tracking URI for many concurrent writers.

    Uses ``MLFLOW_TRACKING_URI`` when it already names a server; otherwise starts
    ``mlflow server`` on a free loopback port over the project's SQLite store (never many
    processes on one SQLite file) and stops it afterwards.
    """
    import shutil
    import socket
    import sys
    import time

    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if uri.startswith(("http://", "https://")):
        yield uri
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
    store = uri or f"sqlite:///{(root / 'mlflow.db').resolve()}"
    cmd = [exe, "server", "--backend-store-uri", store, "--host", "127.0.0.1", "--port", str(port),
           "--artifacts-destination", (root / "mlartifacts").resolve().as_uri(), "--workers", "1"]  # fmt: skip
    log = open(root / ".mlflow-server.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if _healthy(port):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server did not start (see {root / '.mlflow-server.log'})")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def ensure_experiment(uri: str, root: Path, name: str) -> str:
    """Experiment id of ``name`` on ``uri``, created if missing (the server stores its artifacts)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    return client.create_experiment(name)
