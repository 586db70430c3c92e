"""A small search on a local multi-node Ray cluster: a head and a second node started here with
``ray start`` on 127.0.0.1 (one CPU each), trials placed on both nodes."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.pipelines.tune_helpers import BIN, cli, runs, write_params

pytest.importorskip("ray")
pytestmark = [pytest.mark.integration, pytest.mark.slow]
TUNE = """
tune:
  num_samples: 2
  max_concurrent_trials: 2
  cpus_per_trial: 1
  scheduler: fifo
  eval_samples: 200
  space:
    fit.lr: {loguniform: [3.0e-4, 3.0e-3]}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def our_processes(marks: tuple[str, ...]) -> list:
    """Processes of the cluster started here: their command line names our GCS port or temp folder."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        line = " ".join(proc.info["cmdline"] or [])
        if any(m in line for m in marks) and proc.pid != os.getpid():
            found.append(proc)
    return found


@pytest.fixture(scope="module")
def cluster():
    """Head (1 CPU) + one more node (1 CPU) on 127.0.0.1; yields the address; stops only these processes."""
    import psutil

    port = free_port()
    temp = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # Ray's socket paths must stay short
    saved = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "token"  # token auth (Ray >= 2.5x) on every side: nodes, this client, the CLI
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    subprocess.run([str(BIN / "ray"), "get-auth-token", "--generate"], capture_output=True, env=env, timeout=60, check=False)
    address = f"127.0.0.1:{port}"
    common = ["--num-cpus=1", "--disable-usage-stats", "--node-ip-address=127.0.0.1"]
    starts = [
        [str(BIN / "ray"), "start", "--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp}", *common],
        [str(BIN / "ray"), "start", f"--address={address}", *common],
    ]
    try:
        for cmd in starts:
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=180, check=False)
            assert out.returncode == 0, out.stdout[-1500:] + out.stderr[-1500:]
        yield address
    finally:
        os.environ.pop("RAY_AUTH_MODE", None) if saved is None else os.environ.update(RAY_AUTH_MODE=saved)
        procs = our_processes((f"127.0.0.1:{port}", temp))
        for p in procs:
            try:
                p.terminate()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(procs, timeout=30)
        for p in procs:
            if p.is_running():
                p.kill()


def alive_nodes(address: str) -> int:
    """Alive nodes of the cluster, asked from a fresh process (Ray reads RAY_AUTH_MODE when imported)."""
    code = f"import ray; ray.init(address={address!r}, logging_level='ERROR'); print(sum(n['Alive'] for n in ray.nodes()))"
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_USAGE_STATS_ENABLED": "0"}
    out = subprocess.run([str(BIN / "python"), "-c", code], capture_output=True, text=True, env=env, timeout=120, check=False)
    return int(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 and out.stdout.strip() else 0


def test_trials_run_on_more_than_one_node(cluster: str, tune_root: Path) -> None:
    deadline = time.monotonic() + 120
    while alive_nodes(cluster) < 2:
        assert time.monotonic() < deadline, "the second node did not join"
        time.sleep(2)
    params = write_params(tune_root, "tune-cluster.yaml", "tunecluster", TUNE, epochs=2)
    out = cli(tune_root, "tune", "--model", "vae", "--params", params, "--address", cluster, RAY_AUTH_MODE="token")
    assert out.returncode == 0, out.stderr[-3000:]
    parents, children = runs(f"sqlite:///{tune_root / 'mlflow.db'}", "tunecluster")
    assert len(parents) == 1 and len(children) == 2
    assert all(r.info.status == "FINISHED" for r in children)
    nodes = {r.data.tags["genmodels.node_id"] for r in children}
    assert len(nodes) == 2, f"both trials ran on one node: {nodes}"
