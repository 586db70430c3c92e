"""``genmodels ui`` (and ``make ui``): the MLflow UI over the project's tracking store.

Serves ``mlflow server`` on 127.0.0.1 (the store of :func:`tracking_uri`: ``mlflow.db`` at the
root unless ``MLFLOW_TRACKING_URI`` names another; artifacts from ``mlartifacts/``). A port
that is taken is one line saying what to do; ``--port 0`` picks a free one.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

from genmodels.errors import GenmodelsError


class PortInUse(GenmodelsError):
    """The UI's port is taken by another program."""

    exit_code = 1


def port_free(host: str, port: int) -> bool:
    """True when ``host:port`` can be bound now."""
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` that is free at this moment."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def command(root: Path, host: str, port: int) -> list[str]:
    """The ``mlflow server`` command line over the project's store."""
    from genmodels.tracking.mlflow_adapter import artifact_location, tracking_uri

    store = tracking_uri(root)
    if store.startswith(("http://", "https://")):
        raise GenmodelsError(f"MLFLOW_TRACKING_URI is already a server ({store}): open it in a browser, or unset it to serve the project's mlflow.db")
    exe = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
    return [exe, "server", "--backend-store-uri", store, "--host", host, "--port", str(port),
            "--artifacts-destination", artifact_location(root), "--workers", "1"]  # fmt: skip


def experiment_links(root: Path, base: str) -> list[str]:
    """The Leaderboard view's address of every genmodels experiment in the project's store."""
    from mlflow.tracking import MlflowClient

    from genmodels.tracking.mlflow_adapter import EXPERIMENT_KIND_TAG, experiment_page, tracking_uri

    client = MlflowClient(tracking_uri=tracking_uri(root))
    return [f"{e.name}: {experiment_page(base, e.experiment_id)}" for e in client.search_experiments() if EXPERIMENT_KIND_TAG in e.tags]


def run(root: Path, host: str = "127.0.0.1", port: int = 5000) -> int:
    """Serve the UI until Ctrl-C; returns mlflow's exit code."""
    if port == 0:
        port = free_port(host)
    elif not port_free(host, port):
        raise PortInUse(f"port {port} on {host} is in use (another MLflow UI?): open http://{host}:{port} if it is this project's, "
                        f"or pick another port: genmodels ui --port 0 (any free port) or make ui PORT={port + 1}")  # fmt: skip
    cmd = command(root, host, port)
    base = f"http://{host}:{port}"
    print(f"MLflow UI on {base} (Ctrl-C stops it)", file=sys.stderr, flush=True)
    for line in experiment_links(root, base):
        print(f"  {line}", file=sys.stderr, flush=True)
    proc = subprocess.Popen(cmd, cwd=root)
    previous = signal.signal(signal.SIGTERM, _interrupt)  # a kill stops the server too, not only Ctrl-C
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
