"""``genmodels tune``: a real Ray Tune search, one MLflow parent run and a child run per trial."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray")
pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
PARAMS = """
experiment: tunetest
data: {limit: 300}
evaluator: {epochs: 2}
models: {vae: vae}
vae: {model: {hidden: [32], latent_dim: 4}, fit: {epochs: 2, batch_size: 50}}
tune:
  num_samples: 2
  grace_period: 1
  eval_samples: 200
  space:
    fit.lr: {loguniform: [1.0e-4, 3.0e-3]}
    model.latent_dim: {choice: [2, 4]}
"""


def cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS")}
    env.update(GENMODELS_ROOT=str(root), PATH=f"{BIN}:{env['PATH']}")
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    import ray

    ray.shutdown()
    root = tmp_path_factory.mktemp("tune")
    (root / "params.yaml").write_text(PARAMS)
    for args in (["prepare"], ["evaluator"]):
        assert cli(root, *args).returncode == 0
    return root, cli(root, "tune", "--model", "vae")


def test_search_reports_the_best_trial(searched) -> None:
    root, out = searched
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads((root / "reports/tune-vae.json").read_text())
    assert summary["metric"] == "fid" and len(summary["trials"]) == 2
    assert summary["best"]["fid"] == min(t["fid"] for t in summary["trials"])
    assert set(summary["best"]["config"]) == {"fit.lr", "model.latent_dim"}


def test_mlflow_parent_and_child_runs(searched) -> None:
    from mlflow.tracking import MlflowClient

    root, _ = searched
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    exp = client.get_experiment_by_name("tunetest")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(parents) == 1 and len(children) == 2
    assert parents[0].info.status == "FINISHED" and "best_fid" in parents[0].data.metrics
    for child in children:
        assert child.info.status == "FINISHED" and {"fit.lr", "model.latent_dim"} <= set(child.data.params)
        assert len(client.get_metric_history(child.info.run_id, "fid")) >= 1


def test_rerun_needs_resume_and_resume_restores(searched) -> None:
    root, _ = searched
    again = cli(root, "tune", "--model", "vae")
    assert again.returncode == 1 and "pass --resume" in again.stderr
    resumed = cli(root, "tune", "--model", "vae", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert len(json.loads((root / "reports/tune-vae.json").read_text())["trials"]) == 2
