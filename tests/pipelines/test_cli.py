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
        ("seeds: [0, 0]\n", "error: seeds: each seed once, 0 is listed 2 times"),
        ("evaluate:\n  holdout_class: -1\n", "error: evaluate.holdout_class: Input should be greater than or equal to 0"),
    ],
)
def test_prepare_rejects_bad_params(tmp_path: Path, params: str, message: str) -> None:
    (tmp_path / "params.yaml").write_text(params)
    out = genmodels(tmp_path, "prepare")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [out.stderr.strip()] and out.stderr.startswith(message), out.stderr
    assert not (tmp_path / "data").exists()


def test_train_without_prepared_data_names_the_missing_file(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text("models: {vae: vae}\n")
    out = genmodels(tmp_path, "train", "vae")
    assert out.returncode == 2
    assert "card.json" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "models").exists()


def test_metrics_command_on_missing_file(tmp_path: Path) -> None:
    out = genmodels(tmp_path, "metrics", "--real", "nope.parquet", "--fake", "nope2.parquet", "--evaluator", "ev", "--out", "m.json")
    assert out.returncode == 2 and out.stderr.startswith("error: evaluator file not found"), out.stderr
    assert not (tmp_path / "m.json").exists()


def test_every_dvc_stage_command_is_a_cli_subcommand() -> None:
    import typer.main
    import yaml

    from pipelines.cli import app

    commands = set(typer.main.get_command(app).commands)
    stages = yaml.safe_load((Path(__file__).parents[2] / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        cmd = (stage.get("do") or stage)["cmd"].split()
        assert cmd[0] == "genmodels" and cmd[1] in commands, (name, cmd)


def test_check_resolves_defaults_and_keeps_the_last_valid_file(tmp_path: Path) -> None:
    import yaml

    (tmp_path / "params.yaml").write_text("models: {vae: vae, g: gmm}\nvae: {fit: {epochs: 3}}\n")
    assert genmodels(tmp_path, "check").returncode == 0
    resolved = tmp_path / "build/params_resolved.json"
    data = yaml.safe_load(resolved.read_text())
    assert data["vae"]["fit"]["epochs"] == 3 and data["vae"]["fit"]["lr"] == 1e-3  # given and default
    assert data["g"]["model"]["n_components"] > 0 and data["evaluate"]["kid_subsets"] == 100
    assert data["models"] == {"vae": "vae", "g": "gmm"}
    before = resolved.read_bytes()
    (tmp_path / "params.yaml").write_text("models: {vae: vae}\nvae: {fit: {epochs: 3}}\nsampel: {n: 3}\n")
    out = genmodels(tmp_path, "check")
    assert out.returncode == 2
    assert out.stderr == "error: sampel: unknown top-level key (did you mean 'sample'?); a model section must be listed under models:\n"
    assert resolved.read_bytes() == before
