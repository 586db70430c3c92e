"""``genmodels tune`` end to end: a real Ray Tune search, interrupted by a real SIGINT (Ctrl-C
reaches the whole foreground process group) and resumed; one MLflow parent run, one child run
per trial, each ended by its outcome; the best configuration as a params.yaml fragment."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.pipelines.tune_helpers import cli, cli_env, runs, write_params

pytest.importorskip("ray")
pytestmark = [pytest.mark.integration, pytest.mark.slow]
EPOCHS, TRIALS = 4, 6
# lr 1e15 makes the VAE's loss NaN in its first epoch: a diverging trial among healthy ones
TUNE = f"""
tune:
  num_samples: {TRIALS}
  max_concurrent_trials: 2
  grace_period: 1
  reduction_factor: 2
  eval_samples: 200
  space:
    fit.lr: {{choice: [3.0e-3, 1.0e-3, 1.0e+15]}}
    model.latent_dim: {{choice: [2, 4]}}
"""


def trial_lines(root: Path) -> dict[str, list[dict]]:
    """Every trial's reported results so far (Tune's result.json), by trial id."""
    out = {}
    for f in root.glob(".ray_runs/tune-vae-*/*/result.json"):
        out[f.parent.name] = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
    return out


@pytest.fixture(scope="module")
def searched(tune_root: Path) -> dict:
    """Start a search, Ctrl-C it once a trial has finished, then ``--resume`` it."""
    root = tune_root
    params = write_params(root, "tune-main.yaml", "tunemain", TUNE, epochs=EPOCHS)
    log = open(root / "interrupted.log", "w+")  # noqa: SIM115
    cmd = [sys.executable, "-m", "pipelines.cli", "tune", "--model", "vae", "--params", params]
    proc = subprocess.Popen(cmd, env=cli_env(root), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline and proc.poll() is None:
        lines = trial_lines(root)
        if any(rows and rows[-1].get("trial_complete") == 1.0 for rows in lines.values()):
            break
        time.sleep(0.5)
    if proc.poll() is not None:
        log.seek(0)
        pytest.fail(f"the search ended (exit {proc.returncode}) before it could be interrupted:\n{log.read()[-4000:]}")
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    rc = proc.wait(timeout=300)
    log.seek(0)
    before = trial_lines(root)
    resumed = cli(root, "tune", "--model", "vae", "--params", params, "--resume")
    return {"root": root, "params": params, "rc": rc, "log": log.read(), "before": before, "resumed": resumed}


def test_interrupt_exits_130_and_says_how_to_resume(searched: dict) -> None:
    assert searched["rc"] == 130, searched["log"][-3000:]
    assert "rerun with --resume" in searched["log"]
    finished = [t for t, rows in searched["before"].items() if rows and rows[-1].get("trial_complete") == 1.0]
    assert finished and len(searched["before"]) < TRIALS or any(r[-1].get("trial_complete") != 1.0 for r in searched["before"].values())


def test_resume_completes_without_rerunning_finished_trials(searched: dict) -> None:
    out = searched["resumed"]
    assert out.returncode == 0, out.stderr[-3000:]
    after = trial_lines(searched["root"])
    assert len(after) == TRIALS
    for trial, rows in searched["before"].items():
        if rows and (rows[-1].get("trial_complete") == 1.0 or rows[-1].get("done")):
            assert after[trial] == rows, f"trial {trial} ran again after --resume"
    for trial, rows in after.items():
        epochs = [int(r["epoch"]) for r in rows if "epoch" in r and not r.get("done")]
        assert epochs == sorted(set(epochs)), f"trial {trial} repeated epochs {epochs}"


def test_report_objective_on_val_and_test_for_the_best_only(searched: dict) -> None:
    summary = json.loads((searched["root"] / "reports/tune-vae.json").read_text())
    assert summary["objective_split"] == "val" and len(summary["trials"]) == TRIALS
    ok = [t for t in summary["trials"] if t["outcome"] != "failed"]
    assert summary["best"]["fid"] == min(t["fid"] for t in ok)
    assert summary["best"]["test"]["test_fid"] > 0 and summary["best"]["test"]["test_fid"] != summary["best"]["fid"]
    assert [t["trial"] for t in summary["trials"] if t["test"]] == [summary["best"]["trial"]]
    outcomes = summary["outcomes"]
    assert outcomes["failed"] >= 1 and outcomes["stopped_early"] >= 1 and outcomes["completed"] >= 1
    for t in summary["trials"]:
        if t["outcome"] == "failed":
            assert t["config"]["fit.lr"] == 1e15 and "diverged" in t["error"]
        elif t["outcome"] == "stopped_early":
            assert t["epochs"] < EPOCHS
        else:
            assert t["epochs"] == EPOCHS


def test_mlflow_one_parent_every_trial_ended_by_outcome(searched: dict) -> None:
    root = searched["root"]
    summary = json.loads((root / "reports/tune-vae.json").read_text())
    parents, children = runs(f"sqlite:///{root / 'mlflow.db'}", "tunemain")
    assert len(parents) == 1, "the resume opened a second parent run"
    parent = parents[0]
    assert parent.info.status == "FINISHED" and parent.data.tags["genmodels.state"] == "finished"
    assert parent.info.run_id == summary["mlflow_parent_run"]
    assert parent.data.metrics["best_fid"] == pytest.approx(summary["best"]["fid"]) and "test_fid" in parent.data.metrics
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parent.info.run_id}
    by_trial = {r.data.tags["genmodels.trial_id"]: r for r in children}
    assert len(children) == TRIALS and set(by_trial) == {t["trial"] for t in summary["trials"]}
    status = {"completed": "FINISHED", "stopped_early": "KILLED", "failed": "FAILED"}
    for t in summary["trials"]:
        run = by_trial[t["trial"]]
        assert run.info.status == status[t["outcome"]] and run.data.tags["genmodels.outcome"] == t["outcome"]
        assert (run.data.tags.get("genmodels.best") == "true") == (t["trial"] == summary["best"]["trial"])
        assert ("test_fid" in run.data.metrics) == (t["trial"] == summary["best"]["trial"])
        if t["outcome"] == "failed":
            assert "TrainingDiverged" in run.data.tags["error"]


def test_best_configuration_as_params_fragment(searched: dict) -> None:
    from genmodels.config import load_params
    from genmodels.training.tune_config import set_dotted

    root = searched["root"]
    best = json.loads((root / "reports/tune-vae.json").read_text())["best"]["config"]
    fragment = yaml.safe_load((root / "reports/tune-vae.params.yaml").read_text())
    assert fragment == {"vae": {"fit": {"lr": best["fit.lr"]}, "model": {"latent_dim": best["model.latent_dim"]}}}
    out = cli(root, "tune", "--model", "vae", "--overrides", timeout=120)
    assert out.returncode == 0, out.stderr
    options = out.stdout.split()
    assert options[::2] == ["-S", "-S"] and sorted(options[1::2]) == [f"++vae.fit.lr={best['fit.lr']}", f"++vae.model.latent_dim={best['model.latent_dim']}"]
    raw = yaml.safe_load((root / searched["params"]).read_text())  # what dvc exp run -S does to params.yaml
    for option in options[1::2]:
        key, value = option.removeprefix("++").split("=", 1)
        raw["vae"] = set_dotted({"model": raw["vae"]["model"], "fit": raw["vae"]["fit"]}, key.removeprefix("vae."), yaml.safe_load(value))
    (root / "applied.yaml").write_text(yaml.safe_dump(raw))
    spec = load_params(root / "applied.yaml").spec("vae")
    assert spec.fit.lr == best["fit.lr"] and spec.config.latent_dim == best["model.latent_dim"]


def test_rerun_needs_resume(searched: dict) -> None:
    again = cli(searched["root"], "tune", "--model", "vae", "--params", searched["params"], timeout=300)
    assert again.returncode == 1 and "pass --resume" in again.stderr
