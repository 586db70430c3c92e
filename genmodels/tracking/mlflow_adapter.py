"""Record runs in MLflow: one run per model per pipeline run, shared by its stages.

``train@<model>`` opens the run and writes its id to ``models/<model>/mlflow.json``;
``evaluate@<model>`` reopens it (the sample stage does not touch MLflow; evaluate logs its
picture). Tune's parent and child runs live in :mod:`genmodels.tracking.tune_runs`. The
default store is ``sqlite:///mlflow.db`` at the
project root; ``MLFLOW_TRACKING_URI`` overrides it (use an ``mlflow server`` when many
processes write at once, e.g. Tune trials).

Inside a DVC experiment's temporary workspace (``dvc exp run --queue`` / ``--temp``, run by
``dvc queue start``: a copy of the repository under ``<root>/.dvc/tmp/exps/``, deleted
afterwards) the default store is still the repository's own ``mlflow.db`` and ``mlartifacts/``
(:func:`store_root`), and runs are tagged with the experiment's name and baseline
(:func:`experiment_tags`). Several queue workers (``dvc queue start -j N``) may then write to
that one SQLite file: MLflow serialises their writes (SQLite locking, a 20 s busy timeout),
and the steps that race when two processes do them at once (creating the store's tables, an
experiment, a registered model's version, the report run) run under :func:`store_lock`.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from genmodels.errors import GenmodelsError

RUN_FILE = "mlflow.json"
PRESETS = "presets"  # <project>/presets/<name>/: a preset's pipeline, recorded in the project's store


def store_root(root: Path) -> Path:
    """The project folder whose ``mlflow.db`` and ``mlartifacts/`` hold the runs of a pipeline run in ``root``.

    That is ``root`` itself, with two exceptions. A preset folder (``<project>/presets/<name>/``
    beside the project's ``dvc.yaml``, docs/presets.md) records into its project's store, one
    MLflow experiment per preset. And inside a temporary workspace of a DVC experiment, a copy
    of the repository somewhere under ``<repo>/.dvc/tmp/`` (``dvc exp run --queue`` then ``dvc
    queue start``, or ``dvc exp run --temp``), removed when the experiment ends, it is the same
    folder of the repository the experiment was queued from, found from ``DVC_ROOT``
    (documented: DVC sets it for every stage command, and points it at that repository's root
    for queued experiments), or, when a stage is run by hand in such a workspace, from the
    workspace's own path.
    """
    return _outside_workspace(_project(root.resolve()))


def _project(root: Path) -> Path:
    """``root``, or the project that holds it when ``root`` is a preset folder."""
    project = root.parent.parent
    return project if root.parent.name == PRESETS and (project / "dvc.yaml").is_file() else root


def _outside_workspace(root: Path) -> Path:
    """The repository's own folder for ``root`` inside a DVC experiment's temporary workspace, else ``root``."""
    candidates = []
    if os.environ.get("DVC_ROOT"):
        candidates.append(Path(os.environ["DVC_ROOT"]).resolve())
    parts = root.parts
    for i in range(len(parts) - 2):
        if parts[i : i + 3] == (".dvc", "tmp", "exps"):
            candidates.append(Path(*parts[:i]))
            break
    for repo in candidates:
        tmp = repo / ".dvc" / "tmp"
        if not root.is_relative_to(tmp) or root == tmp:
            continue
        # the workspace's own repository root: the nearest folder with a .dvc/ of its own
        workspace = next((p for p in (root, *root.parents) if p != tmp and p.is_relative_to(tmp) and (p / ".dvc").is_dir()), None)
        if workspace is None:
            continue
        target = repo / root.relative_to(workspace)
        if target.is_dir():
            return target
    return root


def in_temporary_workspace(root: Path) -> bool:
    """True inside a DVC experiment's temporary workspace (:func:`store_root` is elsewhere)."""
    project = _project(root.resolve())
    return _outside_workspace(project) != project


def tracking_uri(root: Path) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{store_root(root) / 'mlflow.db'}"


def artifact_location(root: Path) -> str:
    """Where the default store keeps artifacts: ``mlartifacts/`` beside ``mlflow.db`` (:func:`store_root`)."""
    return (store_root(root) / "mlartifacts").as_uri()


_LOCKS: dict[str, list] = {}  # store key -> [this process's RLock, its depth]
_LOCKS_GUARD = threading.Lock()


@contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """Hold an exclusive lock shared by every process on this machine that uses the store ``uri``.

    MLflow serialises plain writes to one SQLite file, but some steps race when two processes
    do them at once: creating a new store's tables (a second process sees a half-made schema
    and fails, "table ... already exists"), creating the same experiment, tagging it, numbering
    a registered model's versions. Those steps run under this lock (``flock`` on a file in the
    temporary folder, keyed by the URI; a no-op where ``fcntl`` is missing). Re-entrant within
    a process (threads wait for each other; a nested use does not lock itself out).
    """
    import hashlib
    import tempfile

    key = hashlib.sha256(uri.encode()).hexdigest()[:16]
    with _LOCKS_GUARD:
        local = _LOCKS.setdefault(key, [threading.RLock(), 0])
    with local[0]:
        local[1] += 1
        try:
            if local[1] > 1:
                yield
                return
            try:
                import fcntl
            except ImportError:  # Windows: no concurrent queue workers to guard against there
                yield
                return
            with open(Path(tempfile.gettempdir()) / f"genmodels-mlflow-{key}.lock", "a") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)
        finally:
            local[1] -= 1


def user_tracking_uri() -> str | None:
    """The store the user named in ``MLFLOW_TRACKING_URI``, if any."""
    return os.environ.get("MLFLOW_TRACKING_URI") or None


def _mlflow(root: Path):
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


def _experiment(mlflow: Any, root: Path, experiment: str) -> str:
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
    experiment_id = _experiment(mlflow, root, experiment)
    mlflow.set_experiment(experiment_id=experiment_id)
    run_id = None
    if not new and run_file.is_file():
        run_id = json.loads(run_file.read_text()).get("run_id")
        try:
            mlflow.get_run(run_id)
        except Exception:
            run_id = None  # the store changed (another MLFLOW_TRACKING_URI): start afresh
    if new:
        close_orphans(mlflow, experiment_id, model_name)
    active = mlflow.start_run(run_id=run_id, run_name=None if run_id else model_name)
    run = Run(mlflow, active.info.run_id)
    if run_id is None:
        owner = {"genmodels.host": socket.gethostname(), "genmodels.pid": str(os.getpid())}
        run.set_tags({"genmodels.model": model_name, **owner, **pipeline_tags(root), **experiment_tags()})
    try:
        yield run
    except BaseException as exc:
        end_failed(mlflow, exc)
        raise
    mlflow.end_run(status="FINISHED")


def close_orphans(mlflow: Any, experiment_id: str, model_name: str) -> None:
    """End as KILLED the model's runs still RUNNING whose process on this host is gone.

    A process killed outright (SIGKILL, the machine's OOM killer) cannot end its run; the next
    run of the same model closes it, with the reason as its note. Runs of another host, or whose
    process still exists, are left alone.
    """
    host = socket.gethostname()
    query = f"tags.`genmodels.model` = '{model_name}' and attributes.status = 'RUNNING' and tags.`genmodels.host` = '{host}'"
    client = mlflow.tracking.MlflowClient()
    for found in client.search_runs([experiment_id], filter_string=query):
        pid = int(found.data.tags.get("genmodels.pid", "0") or 0)
        if pid <= 0 or _alive(pid):
            continue
        note = f"the process (pid {pid} on {host}) ended without closing this run (killed); closed by the next run of {model_name}"
        client.set_tag(found.info.run_id, "mlflow.note.content", note)
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
    store = tracking_uri(root)
    with store_lock(store):  # a new store's tables are made here, not by the server while a stage opens the file too
        from mlflow.tracking import MlflowClient

        MlflowClient(tracking_uri=store).search_experiments(max_results=1)
    cmd = [exe, "server", "--backend-store-uri", store, "--host", "127.0.0.1", "--port", str(port),
           "--artifacts-destination", artifact_location(root), "--workers", "1"]  # fmt: skip
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
    with store_lock(uri):
        exp = client.get_experiment_by_name(name)
        exp_id = exp.experiment_id if exp is not None else client.create_experiment(name)
        mark_model_training(client, exp_id)
    return exp_id


# --- What the MLflow UI shows: the experiment's kind, pipeline tags, closed runs, the registry ---

EXPERIMENT_KIND_TAG = "mlflow.experimentKind"  # read by the MLflow 3 UI to pick its layout
EXPERIMENT_KIND = "custom_model_development"  # "model training" (without it the UI may open a GenAI page)
NOTE_TAG = "mlflow.note.content"  # the description shown at the top of a run's or experiment's page


def mark_model_training(client: Any, experiment_id: str) -> None:
    """Tag the experiment as model training (the UI's layout for it) and save the runs table's
    Leaderboard view (:func:`leaderboard_view`)."""
    client.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
    client.set_experiment_tag(experiment_id, VIEW_TAG, leaderboard_view())


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


EXP_NAME_TAG = "dvc.exp_name"
EXP_BASELINE_TAG = "dvc.exp_baseline_rev"


def experiment_tags() -> dict[str, str]:
    """The DVC experiment a stage runs in (``dvc exp run``, queued or not): its name, as ``dvc exp
    show`` lists it, and the commit it started from (DVC sets ``DVC_EXP_NAME`` and
    ``DVC_EXP_BASELINE_REV`` for the stage commands of an experiment); empty outside one."""
    tags = {EXP_NAME_TAG: os.environ.get("DVC_EXP_NAME"), EXP_BASELINE_TAG: os.environ.get("DVC_EXP_BASELINE_REV")}
    return {k: v for k, v in tags.items() if v}


class ClientRun(Run):
    """A handle that logs into an existing run through ``MlflowClient`` without reopening it:
    its status and end time (so its duration, the training time) stay as they were."""

    def __init__(self, client: Any, run_id: str) -> None:
        self.client, self.run_id = client, run_id

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, v) for k, v in flatten(params).items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(self.run_id, params=items[i : i + 100])

    def log_metrics(self, metrics: Mapping[str, float | None], step: int | None = None) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k.replace("/", "_"), float(v), now, step or 0) for k, v in metrics.items() if v is not None and math.isfinite(float(v))]
        for i in range(0, len(items), 500):
            self.client.log_batch(self.run_id, metrics=items[i : i + 500])

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(k, str(v)) for k, v in tags.items() if v is not None]
        if items:
            self.client.log_batch(self.run_id, tags=items)

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        if path.is_dir():
            self.client.log_artifacts(self.run_id, str(path), artifact_path=artifact_path)
        else:
            self.client.log_artifact(self.run_id, str(path), artifact_path=artifact_path)


def _client(root: Path, experiment: str) -> tuple[Any, str]:
    """A client on the project's store and the experiment's id (created, marked, artifacts under the root)."""
    mlflow = _mlflow(root)
    exp_id = _experiment(mlflow, root, experiment)
    return mlflow.MlflowClient(), exp_id


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


@contextmanager
def closed_run(root: Path, experiment: str, model_name: str, run_file: Path) -> Iterator[Run]:
    """Log evaluation results into the model's training run (from ``run_file``) without
    reopening it, so the run's duration stays the training time; an evaluation that fails
    leaves the run's status alone and records ``evaluate_error``. Without a stored run
    (another store, or no train stage) a new run is opened and closed as :func:`model_run` does."""
    client, _ = _client(root, experiment)
    run_id = stored_run_id(client, run_file)
    if run_id is None:
        with model_run(root, experiment, model_name, run_file, new=True) as run:
            yield run
        return
    run = ClientRun(client, run_id)
    try:
        yield run
    except BaseException as exc:
        run.set_tags({"evaluate_error": f"{type(exc).__name__}: {exc}"[:5000]})
        raise


def describe_experiment(root: Path, experiment: str, text: str) -> None:
    """Set the experiment's description (shown on its page above the runs) and mark its kind."""
    client, exp_id = _client(root, experiment)
    with store_lock(tracking_uri(root)):
        client.set_experiment_tag(exp_id, NOTE_TAG, text)


def tag_runs(root: Path, experiment: str, run_files: Mapping[str, Path], tags: Mapping[str, Any]) -> dict[str, str]:
    """Set ``tags`` on every stored run named in ``run_files`` (left closed); returns name -> run id."""
    client, _ = _client(root, experiment)
    found = {}
    for name, run_file in run_files.items():
        run_id = stored_run_id(client, run_file)
        if run_id is not None:
            ClientRun(client, run_id).set_tags(tags)
            found[name] = run_id
    return found


def log_report_run(root: Path, experiment: str, files: list[Path], tags: Mapping[str, Any]) -> str:
    """One run named ``report`` per pipeline state (git commit and dvc.lock) holding the report's
    files (``index.html``, the leaderboard): a report rerun on the same state replaces them."""
    client, exp_id = _client(root, experiment)
    state = pipeline_tags(root)
    query = " and ".join(["tags.`genmodels.report` = 'true'", *(f"tags.`{k}` = '{v}'" for k, v in state.items())])
    with store_lock(tracking_uri(root)):  # two reports of one state at once (queued experiments) make one run
        same = client.search_runs([exp_id], filter_string=query, max_results=1)
        if same:
            run_id = same[0].info.run_id
        else:
            run_id = client.create_run(exp_id, run_name="report", tags={"genmodels.report": "true", **state}).info.run_id
    run = ClientRun(client, run_id)
    run.set_tags({**tags, **experiment_tags()})
    for f in files:
        run.log_artifact(f, "report")
    client.set_terminated(run_id, "FINISHED")
    return run_id


def register_version(root: Path, name: str, run_id: str, artifact_path: str, tags: Mapping[str, Any], description: str) -> tuple[str, bool]:
    """Register ``artifact_path`` of run ``run_id`` as a version of registered model ``name``
    (created if missing) with ``tags`` and ``description``; when the latest version already
    comes from that run, only its tags and description are refreshed. Returns (version, new)."""
    mlflow = _mlflow(root)
    client = mlflow.MlflowClient()
    clean = {k: str(v) for k, v in tags.items() if v is not None}
    with store_lock(tracking_uri(root)):  # reports of queued experiments at once: one model, numbered versions
        try:
            client.get_registered_model(name)
        except Exception:
            client.create_registered_model(name, description="genmodels: the best model of its family by FID (the report stage)")
        latest = client.search_model_versions(f"name = '{name}'", order_by=["version_number DESC"], max_results=1)
        if latest and latest[0].run_id == run_id:
            version, new = latest[0].version, False
        else:
            source = f"{client.get_run(run_id).info.artifact_uri.rstrip('/')}/{artifact_path}"
            version, new = client.create_model_version(name, source, run_id=run_id).version, True
    for k, v in clean.items():
        client.set_model_version_tag(name, version, k, v)
    client.update_model_version(name, version, description=description)
    return str(version), new


def download(root: Path, uri: str, dest: Path) -> Path:
    """Download ``uri`` (``models:/<name>/<version>``, ``runs:/...``) from the project's store into ``dest``."""
    mlflow = _mlflow(root)
    dest.mkdir(parents=True, exist_ok=True)
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dest)))


class TrackingServerDown(GenmodelsError):
    """``MLFLOW_TRACKING_URI`` names a server that does not answer."""

    exit_code = 1


def reachable(uri: str, timeout: float = 3.0) -> bool:
    """Whether the tracking server at ``uri`` answers now (a GET of its ``/health`` on the
    user's own server; a file or database store always counts as reachable)."""
    if not uri.startswith(("http://", "https://")):
        return True
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout).close()
    except urllib.error.HTTPError:
        return True  # it answers (a proxy may guard /health): let MLflow speak for itself
    except OSError:
        return False
    return True


def check_reachable(uri: str, timeout: float = 3.0) -> None:
    """One line instead of minutes of retries when ``uri`` is an MLflow server that is down."""
    if not reachable(uri, timeout):
        raise TrackingServerDown(f"the MLflow server {uri} (MLFLOW_TRACKING_URI) does not answer: start it "
                                 "(genmodels ui, or mlflow server) or unset MLFLOW_TRACKING_URI to record into the project's mlflow.db")  # fmt: skip


# The runs table's saved view "Leaderboard" (Views menu; or ?viewStateShareKey=leaderboard): the
# headline metrics as the first columns, best FID first. The MLflow 3 UI keeps saved views as
# experiment tags ``mlflow.sharedViewState.<key>`` holding {name, createdAt, state: JSON text}.
VIEW_KEY = "leaderboard"
VIEW_TAG = f"mlflow.sharedViewState.{VIEW_KEY}"
VIEW_METRICS = ("fid", "fid_ci_low", "fid_ci_high", "nll_bits_per_dim", "is", "precision", "recall", "ppl", "train_seconds")


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
