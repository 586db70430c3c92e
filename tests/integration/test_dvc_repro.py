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

from genmodels.metrics.registry import MetricKey, metric_keys, register_metric, unregister_metric
from genmodels.metrics.seeds import headline_keys
from tests.integration.shell import RUNNERS

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).parents[2]
TINY = {
    "experiment": "tiny",
    "seed": 0,
    "data": {"name": "digits", "limit": 400},
    "evaluator": {"epochs": 10},  # features good enough for C_T on the 38 held-out images
    "scaling": {"backend": "local"},
    "models": {"vae": "vae", "gmm": "gmm"},
    "vae": {"model": {"hidden": [64], "latent_dim": 4, "iw_samples": 4}, "fit": {"epochs": 3, "batch_size": 64}},
    "gmm": {"model": {"n_components": 3}},
    "sample": {"n": 300},
    "evaluate": {"ppl_samples": 100, "kid_subsets": 10, "throughput_samples": 100, "holdout_class": 3},
    "seeds": [0, 1],
}


def sh(cwd: Path, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS", "GENMODELS_ROOT")}
    env["PATH"] = f"{Path(os.sys.executable).parent}:{env['PATH']}"
    env.update(RUNNERS.env())  # stages start warm, as for a user
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("project")
    for item in ("dvc.yaml", ".dvcignore", "genmodels", "pipelines"):
        src = ROOT / item
        if src.is_dir():
            shutil.copytree(src, repo / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, repo / item)
    (repo / "params.yaml").write_text(yaml.safe_dump(TINY))
    (repo / ".gitignore").write_text("mlflow.db\nmlartifacts/\n.ray_runs/\n/build/\n")
    sh(repo, "git", "init", "-q")
    sh(repo, "dvc", "init", "-q")
    sh(repo, "dvc", "config", "core.analytics", "false")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "tiny")
    sh(repo, "dvc", "repro")
    return repo


def test_outputs_follow_the_contract(project: Path) -> None:
    card = json.loads((project / "data/prepared/card.json").read_text())
    assert card["shape"] == [1, 8, 8]
    assert set(card["sha256"]) == {"train.parquet", "val.parquet", "test.parquet"}
    assert card["sizes"]["val"] + card["sizes"]["train"] == 400
    table = pq.read_table(project / "samples/vae.parquet")
    assert table.num_rows == 300 and json.loads(table.schema.metadata[b"shape"]) == [1, 8, 8]
    assert str(table.schema.field("x").type) == "fixed_size_list<element: float>[64]"
    assert (project / "samples/vae.png").stat().st_size > 0
    state = torch.load(project / "models/vae/model.pt", weights_only=True)
    assert state and all(isinstance(v, torch.Tensor) for v in state.values())
    metrics = json.loads((project / "metrics/vae.json").read_text())
    for key in metric_keys():
        assert key in metrics
        assert metrics[key] is not None or key in metrics["notes"], key
    for key in ("is", "fid", "kid", "ppl", "precision", "recall", "nll_bits_per_dim", "train_seconds", "samples_per_second"):
        assert isinstance(metrics[key], float), key
    assert 1.0 <= metrics["is"] <= 10.0 and metrics["fid"] > 0
    for key in ("fid", "kid", "precision", "coverage"):
        assert metrics[f"{key}_ci_low"] <= metrics[key] <= metrics[f"{key}_ci_high"], key
    lines = (project / "reports/leaderboard.csv").read_text().splitlines()
    assert lines[0].startswith("model,family,fid_group,fid") and {lines[1][:8], lines[2][:8]} == {"vae,vae,", "gmm,gmm,"}
    assert [line.split(",")[:2] for line in lines[3:]] == [["ref-holdout", "(reference)"], ["ref-train-copy", "(reference)"]]
    md = (project / "reports/leaderboard.md").read_text()
    assert "| vae | vae |" in md and "| ref-train-copy | (reference) |" in md
    # two training seeds: the groups are the first seeds' paired bootstrap, and the line says so
    assert "fid groups (first seeds; paired bootstrap on shared resamples" in md and "not training-seed variance" in md


def test_seeds_and_the_held_out_class_reach_the_metrics_the_leaderboard_and_mlflow(project: Path) -> None:
    import statistics

    from mlflow.tracking import MlflowClient

    for name in ("vae", "gmm"):
        folder = project / "models" / name
        assert (folder / "seeds/1/model.pt").is_file() and (folder / "holdout/model.pt").is_file() and not (folder / "seeds/0").exists()
    m = json.loads((project / "metrics/gmm.json").read_text())
    assert list(m["seeds"]) == ["0", "1"] and m["seeds"]["0"]["fid"] == m["fid"]  # the main row is the first seed's
    stats = [k for k in headline_keys() if m.get(f"{k}_seed_mean") is not None]
    assert {"fid", "kid", "precision", "nll_bits_per_dim", "anomaly_auroc"} <= set(stats)
    for key in stats:
        values = [m["seeds"][s][key] for s in ("0", "1")]
        assert m[f"{key}_seed_mean"] == pytest.approx(statistics.mean(values)) and m[f"{key}_seed_sd"] == pytest.approx(statistics.stdev(values))
    assert m["fid_seed_sd"] > 0 and m["seeds"]["1"]["fid"] != m["fid"]
    assert 0.0 <= m["anomaly_auroc_holdout_class"] <= 1.0 and "anomaly_auroc_holdout_class" not in m["notes"]
    md = (project / "reports/leaderboard.md").read_text()
    header = md.splitlines()[0].split(" | ")
    gmm = next(line for line in md.splitlines() if line.startswith("| gmm |")).split(" | ")
    assert " ± " in gmm[header.index("fid")] and gmm[header.index("anomaly_auroc_holdout_class")] != "—"
    assert "mean ± sd over 2 training seeds" in md
    assert (project / "reports/leaderboard.csv").read_text().splitlines()[0].split(",")[-2:] == ["anomaly_auroc_seed_mean", "anomaly_auroc_seed_sd"]
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("tiny").experiment_id], filter_string="attributes.run_name = 'gmm'")
    assert run.data.metrics["fid_seed_mean"] == pytest.approx(m["fid_seed_mean"]) and "anomaly_auroc_holdout_class" in run.data.metrics


def test_the_training_copy_stands_out_on_the_memorisation_columns(project: Path) -> None:
    copy = json.loads((project / "metrics/ref-train-copy.json").read_text())
    holdout = json.loads((project / "metrics/ref-holdout.json").read_text())
    assert copy["train_copies"] == 1.0 and holdout["train_copies"] == 0.0
    assert copy["ct_stat"] < -3
    if holdout["ct_stat"] is None:  # the tiny held-out split may fill too few k-means cells: null with the reason
        assert holdout["notes"].get("ct_stat")
    else:
        assert holdout["ct_stat"] > -3
    assert copy["nll_bits_per_dim"] is None and "reference row" in copy["notes"]["nll_bits_per_dim"]


def test_mlflow_holds_one_finished_run_with_everything(project: Path) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    exp = client.get_experiment_by_name("tiny")
    runs = client.search_runs([exp.experiment_id], filter_string="attributes.run_name = 'vae'")
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


def ran(out: subprocess.CompletedProcess) -> set[str]:
    return {line.split("'")[1] for line in out.stdout.splitlines() if line.startswith("Running stage")}


def test_changing_one_models_params_reruns_only_that_model(project: Path) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["vae"]["fit"]["lr"] = 0.002
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    assert ran(sh(project, "dvc", "repro")) == {"check", "train@vae", "sample@vae", "evaluate@vae", "restore@vae", "report"}  # not gmm, not reference


def test_editing_one_family_reruns_only_its_stages(project: Path) -> None:
    module = project / "genmodels/models/gmm/model.py"
    original = module.read_text()
    module.write_text(original + "# a comment\n")
    try:
        status = json.loads(sh(project, "dvc", "status", "--json").stdout)
        assert {"train@gmm", "sample@gmm", "evaluate@gmm"} <= set(status)
        assert not [s for s in status if s.endswith("@vae")], status
    finally:
        module.write_text(original)


def test_a_misspelt_top_level_key_stops_dvc_repro_with_one_line(project: Path) -> None:
    text = (project / "params.yaml").read_text()
    (project / "params.yaml").write_text(text + "evalute: {ppl_samples: 10}\n")
    try:
        out = sh(project, "dvc", "repro", check=False)
        assert out.returncode != 0
        errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
        assert errors == ["error: evalute: unknown top-level key (did you mean 'evaluate'?); a model section must be listed under models:"]
        assert "Traceback" not in out.stderr
    finally:
        (project / "params.yaml").write_text(text)
    assert ran(sh(project, "dvc", "repro")) <= {"check"}  # fixing it reruns nothing else


def test_a_registered_metric_reaches_the_metrics_file_and_the_leaderboard(project: Path) -> None:
    """A throwaway metric, registered with nothing else edited, appears in metrics/<m>.json and the leaderboard."""
    import numpy as np

    from pipelines import evaluate, report

    @register_metric("mean_pixel", [MetricKey("mean_pixel", "lower", "mean sample value (test only)")], needs=())
    def mean_pixel(inp) -> dict:  # noqa: ANN001
        return {"mean_pixel": float(np.mean(inp.fake_x))}

    try:
        result = evaluate.run(project, "gmm")
        report.run(project)
    finally:
        unregister_metric("mean_pixel")
    samples = pq.read_table(project / "samples/gmm.parquet").column("x").combine_chunks().flatten().to_numpy()
    assert result["mean_pixel"] == pytest.approx(float(np.mean(samples)), rel=1e-6)
    assert json.loads((project / "metrics/gmm.json").read_text())["mean_pixel"] == result["mean_pixel"]
    md = (project / "reports/leaderboard.md").read_text()
    assert "| mean_pixel |" in md.splitlines()[0] and "Lower is better: fid, kid, train_copies, ppl, nll_bits_per_dim, mean_pixel." in md
    assert "mean_pixel" in (project / "reports/leaderboard.csv").read_text().splitlines()[0]


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
