"""Shared pieces of the ``genmodels tune`` tests: a prepared project, the CLI, MLflow records."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
BASE = """
experiment: {experiment}
data: {{limit: 400}}
evaluator: {{epochs: 3}}
models: {{vae: vae}}
vae: {{model: {{hidden: [32], latent_dim: 4}}, fit: {{epochs: {epochs}, batch_size: 50}}}}
"""


def write_params(root: Path, name: str, experiment: str, tune: str, epochs: int = 4) -> str:
    """A params file ``name`` under ``root`` with a tiny VAE trained ``epochs`` epochs (also in
    its trials) and the given ``tune:`` block (YAML text)."""
    tune = tune.replace("tune:\n", f"tune:\n  epochs: {epochs}\n", 1)
    (root / name).write_text(BASE.format(experiment=experiment, epochs=epochs) + tune)
    return name


def cli_env(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS")}
    env.update(GENMODELS_ROOT=str(root), PATH=f"{BIN}:{env['PATH']}", RAY_USAGE_STATS_ENABLED="0", **extra)
    return env


def cli(root: Path, *args: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args], env=cli_env(root, **env), capture_output=True, text=True, timeout=timeout, check=False
    )


def prepare(root: Path) -> None:
    write_params(root, "params.yaml", "base", "")
    for args in (["prepare"], ["evaluator"]):
        out = cli(root, *args)
        assert out.returncode == 0, out.stderr[-2000:]


def runs(uri: str, experiment: str) -> tuple[list[Any], list[Any]]:
    """(parent runs, child runs) of ``experiment``."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    found = client.search_runs([exp.experiment_id], max_results=1000) if exp else []
    return [r for r in found if "mlflow.parentRunId" not in r.data.tags], [r for r in found if "mlflow.parentRunId" in r.data.tags]
