"""Training on a local multi-node Ray cluster (``cluster/local.sh``): ranks land on different
nodes, and a request the cluster can never hold stops in one line instead of waiting."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.local_cluster import local_cluster

pytest.importorskip("ray")
pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def cluster():
    """A head and two worker nodes of one CPU each on 127.0.0.1."""
    with local_cluster(workers=2) as address:
        yield address


EPOCHS = 6


def project(tmp: Path, workers: int, backend: str = "ray") -> dict[str, str]:
    write_params(tmp, workers, backend)
    env = {**os.environ, "GENMODELS_ROOT": str(tmp), "OMP_NUM_THREADS": "1", "RAY_AUTH_MODE": "token"}
    env.pop("MLFLOW_TRACKING_URI", None)
    assert cli(env, "prepare").returncode == 0
    return env


def write_params(tmp: Path, workers: int, backend: str) -> None:
    (tmp / "params.yaml").write_text(
        f"data: {{name: digits, limit: 300}}\nmodels: {{v: vae}}\nv: {{fit: {{epochs: {EPOCHS}}}}}\n"
        f"scaling: {{backend: {backend}, num_workers: {workers}}}\n"
    )
def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], env=env, capture_output=True, text=True, timeout=600, check=False)


def test_two_workers_train_on_two_different_nodes_quietly_to_one_workers_result(cluster: str, tmp_path: Path) -> None:
    env = project(tmp_path, workers=2)
    out = cli({**env, "RAY_ADDRESS": cluster}, "train", "v")
    assert out.returncode == 0, out.stderr[-2000:]
    placement = json.loads((tmp_path / "models/v/placement.json").read_text())
    assert len(placement) == 2 and len(set(placement)) == 2  # rank 0 and rank 1 ran on different Ray nodes
    assert (tmp_path / "models/v/model.pt").is_file()
    # a line per epoch from rank 0, none of Ray Train's per-report dumps or state-API warnings
    # (the three nodes of this one-machine cluster share one log folder, so each node's log
    # monitor forwards every line: each appears once per node here, once on real machines)
    epochs = {m.group(0) for m in re.finditer(r"\bepoch (\d+) loss/model=\S+", out.stderr)}
    assert len(epochs) == EPOCHS, out.stderr[-3000:]
    assert "TrainingReport(" not in out.stderr and "Failed to query" not in out.stderr, out.stderr[-3000:]
    two = json.loads((tmp_path / "models/v/history.json").read_text())

    # the same global batches on one in-process worker: a run that means the same
    write_params(tmp_path, workers=1, backend="local")
    out = cli(env, "train", "v")
    assert out.returncode == 0, out.stderr[-2000:]
    one = json.loads((tmp_path / "models/v/history.json").read_text())
    assert len(one) == len(two) == EPOCHS
    for key in ("loss/model", "val_nll_bits_per_dim"):
        a, b = one[-1][key], two[-1][key]
        assert abs(a - b) <= 0.02 * abs(a), f"{key}: one worker {a:.4f}, two workers on two nodes {b:.4f}"


def test_more_workers_than_the_cluster_holds_stops_in_one_line(cluster: str, tmp_path: Path) -> None:
    env = project(tmp_path, workers=64)
    out = cli({**env, "RAY_ADDRESS": cluster}, "train", "v")
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr[-2000:]
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: 64 workers need 64 CPUs, but the Ray cluster has 3 on 3 node(s); lower scaling.num_workers"), last
    assert not (tmp_path / "models/v").exists()
