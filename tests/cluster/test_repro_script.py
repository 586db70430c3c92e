"""cluster/repro.sh, the command the RayJob and the AWS usage line run, on a tiny copy of the
project: `dvc exp run` (here up to train@vae) with the checkpoint storage taken from
GENMODELS_STORAGE_PATH, then the outputs pushed to the DVC remote GENMODELS_DVC_REMOTE. (On a cluster the same script adds Ray
and GPUs through its -S options; here the stages run in-process.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.tiny_pipeline import tiny_params

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # minutes: real servers, CLI processes
REPO = Path(__file__).parents[2]
TINY = {k: v for k, v in tiny_params("repro-sh").items() if k != "scaling"}  # backend auto


def sh(cwd: Path, env: dict[str, str], *cmd: str, timeout: float = 120) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert out.returncode == 0, f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


def test_repro_script_sets_the_storage_path_runs_the_pipeline_and_pushes(tmp_path: Path) -> None:
    repo = tmp_path / "project"
    repo.mkdir()
    for item in ("dvc.yaml", ".dvcignore", "genmodels", "pipelines"):
        src = REPO / item
        if src.is_dir():
            shutil.copytree(src, repo / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, repo / item)
    (repo / "cluster").mkdir()
    shutil.copy2(REPO / "cluster/repro.sh", repo / "cluster/repro.sh")
    (repo / "params.yaml").write_text(yaml.safe_dump(TINY))
    (repo / ".gitignore").write_text("mlflow.db\nmlartifacts/\n.ray_runs/\n/build/\n")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS", "GENMODELS_ROOT", "GENMODELS_STORAGE_PATH", "GENMODELS_DVC_REMOTE")
    }
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    sh(repo, env, "git", "init", "-q")
    sh(repo, env, "dvc", "init", "-q")
    sh(repo, env, "dvc", "config", "core.analytics", "false")
    sh(repo, env, "git", "add", "-A")
    sh(repo, env, "git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "tiny")

    storage, remote = tmp_path / "shared/ray", tmp_path / "shared/dvc"
    job = {**env, "GENMODELS_STORAGE_PATH": str(storage), "GENMODELS_DVC_REMOTE": str(remote)}
    # from another directory, as a job runner starts it
    # up to train@vae (the stages that use the storage path; the full pipeline is test_dvc_repro's)
    sh(tmp_path, job, "bash", str(repo / "cluster/repro.sh"), "-S", "++scaling.backend=local", "train@vae", timeout=900)

    params = yaml.safe_load((repo / "params.yaml").read_text())
    assert params["scaling"] == {"backend": "local", "storage_path": str(storage)}  # both -S overrides applied
    assert (repo / "models/vae/model.pt").is_file()
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    assert {"check", "prepare", "train@vae"} <= set(lock["stages"])
    runs = [p for p in storage.iterdir() if p.name.startswith("vae-")]
    assert runs and list(runs[0].glob("checkpoint_*"))  # the training run checkpointed under the shared path
    assert any(p.is_file() for p in remote.rglob("*"))  # outputs pushed
    status = sh(repo, env, "dvc", "status", "--cloud")
    assert "in sync" in status.stdout, status.stdout
