"""End to end: ``dvc repro`` on a tiny config in a temporary git repo, checked file by file and in MLflow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch
import yaml

from genmodels.metrics.suite import METRIC_KEYS

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]
TINY = {
    "experiment": "tiny",
    "seed": 0,
    "data": {"name": "digits", "limit": 400},
    "evaluator": {"epochs": 3},
    "scaling": {"backend": "local"},
    "models": ["vae"],
    "vae": {"model": {"hidden": [64], "latent_dim": 4, "iw_samples": 4}, "fit": {"epochs": 3, "batch_size": 64}},
    "sample": {"n": 300},
    "evaluate": {"ppl_samples": 100, "kid_subsets": 10, "throughput_samples": 100},
}


def sh(cwd: Path, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS", "GENMODELS_ROOT")}
    env["PATH"] = f"{Path(os.sys.executable).parent}:{env['PATH']}"
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("project")
    for item in ("dvc.yaml", ".dvcignore", "genmodels"):
        src = ROOT / item
        if src.is_dir():
            shutil.copytree(src, repo / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, repo / item)
    (repo / "params.yaml").write_text(yaml.safe_dump(TINY))
    (repo / ".gitignore").write_text("mlflow.db\nmlartifacts/\n.ray_runs/\n")
    sh(repo, "git", "init", "-q")
    sh(repo, "dvc", "init", "-q")
    sh(repo, "dvc", "config", "core.analytics", "false")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "tiny")
    sh(repo, "dvc", "repro")
    return repo


def test_outputs_follow_the_contract(project: Path) -> None:
    card = json.loads((project / "data/prepared/card.json").read_text())
    assert card["shape"] == [1, 8, 8] and card["sizes"]["train"] == 400
    assert set(card["sha256"]) == {"train.parquet", "test.parquet"}
    table = pq.read_table(project / "samples/vae.parquet")
    assert table.num_rows == 300 and json.loads(table.schema.metadata[b"shape"]) == [1, 8, 8]
    assert str(table.schema.field("x").type) == "fixed_size_list<element: float>[64]"
    assert (project / "samples/vae.png").stat().st_size > 0
    state = torch.load(project / "models/vae/model.pt", weights_only=True)
    assert state and all(isinstance(v, torch.Tensor) for v in state.values())
    metrics = json.loads((project / "metrics/vae.json").read_text())
    for key in METRIC_KEYS:
        assert key in metrics
        assert metrics[key] is not None or key in metrics["notes"], key
    for key in ("is", "fid", "kid", "ppl", "precision", "recall", "nll_bits_per_dim", "train_seconds", "samples_per_second"):
        assert isinstance(metrics[key], float), key
    assert 1.0 <= metrics["is"] <= 10.0 and metrics["fid"] > 0
    lines = (project / "reports/leaderboard.csv").read_text().splitlines()
    assert lines[0].startswith("model,family,fid") and lines[1].startswith("vae,vae,")
    assert "| vae | vae |" in (project / "reports/leaderboard.md").read_text()


def test_mlflow_holds_one_finished_run_with_everything(project: Path) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    exp = client.get_experiment_by_name("tiny")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED" and run.info.run_name == "vae"
    assert run.data.params["vae.fit.epochs"] == "3" and run.data.params["data.name"] == "digits"
    assert {"fid", "kid", "is", "ppl", "nll_bits_per_dim"} <= set(run.data.metrics)
    history = client.get_metric_history(run.info.run_id, "loss_model")
    assert [m.step for m in history] == [0, 1, 2]
    assert len(run.data.tags["git_commit"]) == 40
    assert {"dvc_lock.prepare", "dvc_lock.train.vae", "dvc_lock.sample.vae"} <= set(run.data.tags)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"checkpoint", "samples", "metrics"} <= artifacts
    assert "checkpoint/model.pt" in {a.path for a in client.list_artifacts(run.info.run_id, "checkpoint")}


def test_second_repro_does_nothing(project: Path) -> None:
    out = sh(project, "dvc", "repro")
    assert "Running stage" not in out.stdout
    assert "up to date" in (out.stdout + out.stderr).lower()


def test_changing_one_models_params_reruns_only_that_model(project: Path) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["vae"]["fit"]["lr"] = 0.002
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    status = json.loads(sh(project, "dvc", "status", "--json").stdout)
    assert "train@vae" in status
    assert "prepare" not in status and "evaluator" not in status


def test_bad_params_stop_the_stage_with_one_line_and_touch_nothing(project: Path) -> None:
    before = (project / "models/vae/model.pt").read_bytes()
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["vae"]["fit"]["lr"] = -1
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    out = sh(project, "dvc", "repro", "train@vae", check=False)
    assert out.returncode != 0
    assert "error: vae.fit.lr: Input should be greater than 0" in out.stderr + out.stdout
    assert "Traceback" not in out.stderr + out.stdout
    assert (project / "models/vae/model.pt").read_bytes() == before
