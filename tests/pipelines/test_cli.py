"""The CLI: bad input gives one line, a non-zero exit and no output files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def genmodels(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GENMODELS_ROOT": str(root)}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("data:\n  nme: digits\n", "error: data.nme: unknown key"),
        ("data:\n  test_fraction: 1.5\n", "error: data.test_fraction: Input should be less than 1"),
        ("seed: -1\n", "error: seed: Input should be greater than or equal to 0"),
        ("data:\n  name: imagenet\n", "error: data.name: unknown dataset 'imagenet'"),
    ],
)
def test_prepare_rejects_bad_params(tmp_path: Path, params: str, message: str) -> None:
    (tmp_path / "params.yaml").write_text(params)
    out = genmodels(tmp_path, "prepare")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [out.stderr.strip()] and out.stderr.startswith(message), out.stderr
    assert not (tmp_path / "data").exists()


def test_train_without_prepared_data_names_the_missing_file(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text("models: [vae]\n")
    out = genmodels(tmp_path, "train", "vae")
    assert out.returncode == 2
    assert "card.json" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "models").exists()


def test_metrics_command_on_missing_file(tmp_path: Path) -> None:
    out = genmodels(tmp_path, "metrics", "--real", "nope.parquet", "--fake", "nope2.parquet", "--evaluator", "ev", "--out", "m.json")
    assert out.returncode == 2 and out.stderr.startswith("error: evaluator file not found"), out.stderr
    assert not (tmp_path / "m.json").exists()


def test_help_lists_every_stage() -> None:
    out = subprocess.run([sys.executable, "-m", "pipelines.cli", "--help"], capture_output=True, text=True, timeout=60)
    for cmd in ("prepare", "evaluator", "train", "sample", "evaluate", "report", "metrics"):
        assert cmd in out.stdout
