"""A small search on a local multi-node Ray cluster: a head and a second node on 127.0.0.1
(``cluster/local.sh``, one CPU each), trials placed on both nodes."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.local_cluster import local_cluster
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


@pytest.fixture(scope="module")
def cluster():
    """Head (1 CPU) + one more node (1 CPU) on 127.0.0.1 (cluster/local.sh, token auth); yields the address."""
    saved = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "token"  # token auth (Ray >= 2.5x) on every side: nodes, this client, the CLI
    try:
        with local_cluster(workers=1) as address:
            yield address
    finally:
        os.environ.pop("RAY_AUTH_MODE", None) if saved is None else os.environ.update(RAY_AUTH_MODE=saved)


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
