"""A local multi-node Ray cluster for the tests, started and stopped by ``cluster/local.sh``
(a head and worker nodes on 127.0.0.1, each its own raylet) on a free port and a short temp
folder of its own, so the shutdown touches only its processes."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from genmodels.tracking.server import free_port

SCRIPT = Path(__file__).parents[1] / "cluster" / "local.sh"


@contextmanager
def local_cluster(workers: int, cpus: int = 1) -> Iterator[str]:
    """``cluster/local.sh up <workers> <cpus>``; yields the address ``127.0.0.1:<port>``, then ``down``."""
    env = {**os.environ, "GENMODELS_RAY_PORT": str(free_port()), "GENMODELS_RAY_TEMP": tempfile.mkdtemp(prefix="gmr", dir="/tmp")}
    env.pop("RAY_ADDRESS", None)
    up = subprocess.run([str(SCRIPT), "up", str(workers), str(cpus)], env=env, capture_output=True, text=True, timeout=300, check=False)
    try:
        assert up.returncode == 0, up.stderr
        yield f"127.0.0.1:{env['GENMODELS_RAY_PORT']}"
    finally:
        subprocess.run([str(SCRIPT), "down"], env=env, capture_output=True, timeout=120, check=False)
