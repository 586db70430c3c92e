"""The one local ``mlflow server`` over the project's store: behind ``genmodels ui`` (in the
foreground) and behind a Tune search (:func:`tracking_server`: many concurrent writers go
through a server, never many processes on one SQLite file).

The server serves the store of :func:`~genmodels.tracking.store.tracking_uri` (``mlflow.db``
at the project root) with artifacts from ``mlartifacts/`` beside it, one worker.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from genmodels.errors import GenmodelsError
from genmodels.tracking.store import artifact_location, store_lock, tracking_uri

LOG_FILE = ".mlflow-server.log"  # at the project root: the output of a server started for a search


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


def server_command(root: Path, host: str, port: int) -> list[str]:
    """The ``mlflow server`` command line over the project's store (a GenmodelsError when
    ``MLFLOW_TRACKING_URI`` already names a server: there is nothing to serve)."""
    store = tracking_uri(root)
    if store.startswith(("http://", "https://")):
        raise GenmodelsError(f"MLFLOW_TRACKING_URI is already a server ({store}): open it in a browser, or unset it to serve the project's mlflow.db")
    exe = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
    return [exe, "server", "--backend-store-uri", store, "--host", host, "--port", str(port),
            "--artifacts-destination", artifact_location(root), "--workers", "1"]  # fmt: skip


def launch(root: Path, host: str, port: int, output: IO[bytes] | None = None) -> subprocess.Popen:
    """Start the server on ``host:port`` (its output to ``output``, else this process's)."""
    cmd = server_command(root, host, port)
    redirect = {"stdout": output, "stderr": subprocess.STDOUT} if output is not None else {}
    return subprocess.Popen(cmd, cwd=root, **redirect)


def stop(proc: subprocess.Popen, grace: float = 20.0) -> None:
    """Terminate the server, killing it when it has not ended after ``grace`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()


def healthy(port: int, host: str = "127.0.0.1") -> bool:
    """True when the server answers ``GET /health`` on ``host:port``."""
    import http.client

    conn = http.client.HTTPConnection(host, port, timeout=2)
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

    Uses ``MLFLOW_TRACKING_URI`` when it already names a server; otherwise starts the server
    on a free loopback port (output in :data:`LOG_FILE`) and stops it afterwards.
    """
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if uri.startswith(("http://", "https://")):
        yield uri
        return
    store = tracking_uri(root)
    with store_lock(store):  # a new store's tables are made here, not by the server while a stage opens the file too
        from mlflow.tracking import MlflowClient

        MlflowClient(tracking_uri=store).search_experiments(max_results=1)
    port = free_port()
    with open(root / LOG_FILE, "wb") as log:
        proc = launch(root, "127.0.0.1", port, log)
        try:
            deadline = time.monotonic() + timeout
            while not healthy(port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mlflow server did not start (see {root / LOG_FILE})")
                time.sleep(0.5)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(proc)
