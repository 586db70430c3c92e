"""Where runs are recorded: the tracking store's location, a lock shared across processes, reachability.

The default store is ``sqlite:///mlflow.db`` at the project root with artifacts in
``mlartifacts/`` beside it; ``MLFLOW_TRACKING_URI`` overrides it (use an ``mlflow server`` when
many processes write at once, e.g. Tune trials).

Inside a DVC experiment's temporary workspace (``dvc exp run --queue`` / ``--temp``, run by
``dvc queue start``: a copy of the repository under ``<root>/.dvc/tmp/exps/``, deleted
afterwards) the default store is still the repository's own ``mlflow.db`` and ``mlartifacts/``
(:func:`store_root`). Several queue workers (``dvc queue start -j N``) may then write to that
one SQLite file: MLflow serialises their writes (SQLite locking, a 20 s busy timeout), and the
steps that race when two processes do them at once (creating the store's tables, an
experiment, a registered model's version, the report run) run under :func:`store_lock`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from genmodels.errors import GenmodelsError

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


def user_tracking_uri() -> str | None:
    """The store the user named in ``MLFLOW_TRACKING_URI``, if any."""
    return os.environ.get("MLFLOW_TRACKING_URI") or None


def tracking_uri(root: Path) -> str:
    """``MLFLOW_TRACKING_URI``, else the project's ``sqlite:///<store root>/mlflow.db``."""
    return user_tracking_uri() or f"sqlite:///{store_root(root) / 'mlflow.db'}"


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
