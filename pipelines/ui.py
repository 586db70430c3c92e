"""``genmodels ui`` (and ``make ui``): the MLflow UI over the project's tracking store.

Serves ``mlflow server`` (:mod:`genmodels.tracking.server`) on 127.0.0.1 (the store of :func:`tracking_uri`: ``mlflow.db`` at the
root unless ``MLFLOW_TRACKING_URI`` names another; artifacts from ``mlartifacts/``). A port
that is taken is one line saying what to do; ``--port 0`` picks a free one.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from genmodels.errors import GenmodelsError


class PortInUse(GenmodelsError):
    """The UI's port is taken by another program."""

    exit_code = 1


def experiment_links(root: Path, base: str) -> list[str]:
    """The Leaderboard view's address of every genmodels experiment in the project's store."""
    from mlflow.tracking import MlflowClient

    from genmodels.tracking.presentation import EXPERIMENT_KIND_TAG, experiment_page
    from genmodels.tracking.store import tracking_uri

    client = MlflowClient(tracking_uri=tracking_uri(root))
    return [f"{e.name}: {experiment_page(base, e.experiment_id)}" for e in client.search_experiments() if EXPERIMENT_KIND_TAG in e.tags]


def run(root: Path, host: str = "127.0.0.1", port: int = 5000) -> int:
    """Serve the UI until Ctrl-C; returns mlflow's exit code."""
    from genmodels.tracking.server import free_port, launch, port_free, server_command, stop

    if port == 0:
        port = free_port(host)
    elif not port_free(host, port):
        raise PortInUse(f"port {port} on {host} is in use (another MLflow UI?): open http://{host}:{port} if it is this project's, "
                        f"or pick another port: genmodels ui --port 0 (any free port) or make ui PORT={port + 1}")  # fmt: skip
    server_command(root, host, port)  # a store that is already a server is one line, before anything is printed
    base = f"http://{host}:{port}"
    print(f"MLflow UI on {base} (Ctrl-C stops it)", file=sys.stderr, flush=True)
    for line in experiment_links(root, base):
        print(f"  {line}", file=sys.stderr, flush=True)
    proc = launch(root, host, port)
    previous = signal.signal(signal.SIGTERM, _interrupt)  # a kill stops the server too, not only Ctrl-C
    try:
        return proc.wait()
    except KeyboardInterrupt:
        stop(proc)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
