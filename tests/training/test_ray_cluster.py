"""``genmodels train`` against a running Ray cluster (``ray start --head``) named by RAY_ADDRESS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from genmodels.tracking.server import free_port

pytest.importorskip("ray")
pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def cluster():
    import ray

    ray.shutdown()  # this test talks to its own cluster, not an in-process instance
    port = free_port()
    temp = tempfile.mkdtemp(prefix="rc", dir="/tmp")  # Ray's socket paths must stay short
    # token auth on both sides (Ray >= 2.5x): the head and our client read ~/.ray/auth_token
    os.environ["RAY_AUTH_MODE"] = "token"
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    subprocess.run([str(BIN / "ray"), "get-auth-token", "--generate"], capture_output=True, env=env, timeout=60)
    start = [str(BIN / "ray"), "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false", f"--temp-dir={temp}", "--disable-usage-stats"]
    subprocess.run(start, check=True, capture_output=True, env=env, timeout=120)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([str(BIN / "ray"), "stop", "--force"], capture_output=True, env=env, timeout=120)
        os.environ.pop("RAY_AUTH_MODE", None)


@pytest.mark.slow  # a ray start cluster and the train stage on it: ~43 s, in make test-slow
def test_train_stage_uses_the_cluster(cluster: str, tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text(
        "experiment: cluster\ndata: {limit: 200}\nmodels: {vae: vae}\n"
        "vae: {model: {hidden: [32], latent_dim: 4}, fit: {epochs: 2, batch_size: 50}}\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(GENMODELS_ROOT=str(tmp_path), RAY_ADDRESS=cluster, PATH=f"{BIN}:{env['PATH']}")
    for args in (["prepare"], ["train", "vae"]):
        out = subprocess.run([sys.executable, "-m", "pipelines.cli", *args], env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
    assert "backend=ray" in out.stderr  # auto picks Ray Train because RAY_ADDRESS is set
    runs = list((tmp_path / ".ray_runs").glob("vae-*"))
    assert len(runs) == 1 and list(runs[0].glob("checkpoint_*")), "Ray Train wrote no checkpoint"
    history = json.loads((tmp_path / "models/vae/history.json").read_text())
    assert [int(r["epoch"]) for r in history] == [0, 1]
