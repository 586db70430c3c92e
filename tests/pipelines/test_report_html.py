"""The report stage's page and what the pipeline leaves in MLflow, on a real tiny pipeline run
(:mod:`tests.tiny_pipeline`): reports/index.html self-contained, pictures per model, the
experiment marked as model training, runs that last as long as training, the model registry
and ``genmodels sample --model-uri``."""

from __future__ import annotations

import base64
import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines import paths
from tests.tiny_pipeline import EXPERIMENT, tiny_project

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient

from genmodels.tracking.mlflow_adapter import EXPERIMENT_KIND, EXPERIMENT_KIND_TAG, NOTE_TAG

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def root() -> Path:
    return tiny_project()


@pytest.fixture(scope="module")
def client(root: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")


def runs_by_name(client: MlflowClient) -> dict:
    exp = client.get_experiment_by_name(EXPERIMENT)
    return {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}


def cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"GENMODELS_ROOT": str(root), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(root)}
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], env=env, capture_output=True, text=True, timeout=300, cwd=root)


def test_the_page_is_self_contained_with_every_picture_embedded(root: Path) -> None:
    page = (root / paths.INDEX_HTML).read_text()
    assert not re.search(r"""(src|href)=["'](https?:|file:|/)""", page)  # nothing fetched from elsewhere
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert all(base64.b64decode(b)[:8] == PNG for b in images)
    # vae: grid, interpolation, neighbours, curves; gmm (one fit, no curves): grid, neighbours; 3 interval charts
    assert len(images) == 4 + 2 + 3, len(images)
    assert page.count('alt="latent interpolation"') == 1 and page.count('alt="nearest training images"') == 2


def test_the_page_holds_the_leaderboard_the_reference_rows_and_the_environment(root: Path) -> None:
    page = (root / paths.INDEX_HTML).read_text()
    header = re.search(r"<tr><th>model</th>(.*?)</tr>", page).group(1)
    assert re.findall(r"<th>([a-z_]+)", header)[:5] == ["family", "fid_group", "fid", "nll_bits_per_dim", "is"]
    vae = re.search(r"<tr><td>vae</td>.*?</tr>", page).group(0)
    assert re.search(r"<td>[\d.]+ \[[\d.]+, [\d.]+\]</td>", vae)  # FID with its interval
    assert '<tr class="reference"><td>ref-holdout</td>' in page and '<tr class="reference"><td>ref-train-copy</td>' in page
    assert "fid groups (paired bootstrap" in page
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip()
    for fact in (f"<td>git commit</td><td>{commit}</td>", "<td>seed</td><td>0</td>", "<td>torch</td>", "<td>mlflow</td>", "<td>accelerator</td>"):
        assert fact in page, fact


def test_sample_writes_the_pictures_and_the_curves_dvc_plots_reads(root: Path) -> None:
    vae, gmm = root / paths.figures_dir("vae"), root / paths.figures_dir("gmm")
    assert (vae / paths.INTERPOLATION_PNG).read_bytes()[:8] == PNG and (vae / paths.NEIGHBOURS_PNG).read_bytes()[:8] == PNG
    assert not (gmm / paths.INTERPOLATION_PNG).exists() and (gmm / paths.NEIGHBOURS_PNG).is_file()  # no latent, no strip
    curves = json.loads((vae / paths.CURVES_FILE).read_text())
    assert [r["epoch"] for r in curves] == [0, 1] and all(len(r) > 1 for r in curves)


def test_the_experiment_is_model_training_with_the_headline_board_as_its_description(root: Path, client: MlflowClient) -> None:
    exp = client.get_experiment_by_name(EXPERIMENT)
    assert exp.tags[EXPERIMENT_KIND_TAG] == EXPERIMENT_KIND == "custom_model_development"
    note = exp.tags[NOTE_TAG]
    assert "| model | family | fid_group | fid | nll_bits_per_dim | is | precision | recall | ppl |" in note and "| vae | vae |" in note


def test_a_model_run_lasts_as_long_as_training_and_holds_metrics_pictures_and_tags(root: Path, client: MlflowClient) -> None:
    runs = runs_by_name(client)
    assert {"vae", "gmm", "ref-holdout", "ref-train-copy", "report"} <= set(runs)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip()
    run = runs["vae"]
    assert run.info.status == "FINISHED"
    assert run.data.tags["git_commit"] == run.data.tags["mlflow.source.git.commit"] == commit
    assert run.data.tags[NOTE_TAG].startswith("**FID** ") and "**PPL**" in run.data.tags[NOTE_TAG]
    m = run.data.metrics
    for key in ("fid", "fid_ci_low", "fid_ci_high", "is", "ppl", "precision", "recall", "nll_bits_per_dim", "train_seconds", "evaluate_seconds"):
        assert key in m, key
    # evaluation did not stretch the run: the run had ended when evaluate logged its metrics
    (fid,) = client.get_metric_history(run.info.run_id, "fid")
    assert run.info.start_time <= run.info.end_time <= fid.timestamp
    names = {f.path for f in client.list_artifacts(run.info.run_id, "figures")} | {f.path for f in client.list_artifacts(run.info.run_id, "samples")}
    assert {"figures/interpolation.png", "figures/neighbours.png", "figures/training.json", "samples/vae.png"} <= names
    assert {f.path for f in client.list_artifacts(runs["report"].info.run_id, "report")} >= {"report/index.html", "report/leaderboard.md"}


def test_each_familys_best_model_is_registered_and_samples_come_from_it(root: Path, client: MlflowClient, tmp_path: Path) -> None:
    for family in ("vae", "gmm"):
        (version,) = client.search_model_versions(f"name = '{EXPERIMENT}-{family}'")
        assert version.tags["genmodels.model"] == family and float(version.tags["fid"]) > 0
        assert version.description.startswith(f"{family}: **FID** ")
    out = tmp_path / "drawn.parquet"
    done = cli(root, "sample", "--model-uri", f"models:/{EXPERIMENT}-vae/1", "--n", "40", "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    table = pq.read_table(out)
    assert table.num_rows == 40 and json.loads(table.schema.metadata[b"shape"]) == [1, 8, 8]
    missing = cli(root, "sample", "--model-uri", f"models:/{EXPERIMENT}-vae/9", "--n", "4", "--out", str(tmp_path / "none.parquet"))
    assert missing.returncode == 2 and missing.stderr.startswith(f"error: models:/{EXPERIMENT}-vae/9: cannot load it from the MLflow store")
    assert missing.stderr.count("\n") == 1 and not (tmp_path / "none.parquet").exists()


def test_the_report_run_again_keeps_the_registered_version(root: Path, client: MlflowClient) -> None:
    done = cli(root, "report")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "kept models:/tiny-ui-vae/1" in done.stderr
    assert len(client.search_model_versions(f"name = '{EXPERIMENT}-vae'")) == 1
    exp = client.get_experiment_by_name(EXPERIMENT)
    assert [r.info.run_name for r in client.search_runs([exp.experiment_id])].count("report") == 1  # same pipeline state, same report run


def test_a_taken_ui_port_and_a_server_that_is_down_are_one_line(root: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        done = cli(root, "ui", "--port", str(port))
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"error: port {port} on 127.0.0.1 is in use") and "genmodels ui --port 0" in done.stderr
    env_run = subprocess.run([sys.executable, "-m", "pipelines.cli", "report"], capture_output=True, text=True, timeout=300, cwd=root,
                             env={"GENMODELS_ROOT": str(root), "PATH": "/usr/bin:/bin", "HOME": str(root), "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"})  # fmt: skip
    errors = [line for line in env_run.stderr.splitlines() if line.startswith("error")]
    assert env_run.returncode == 1 and len(errors) == 1 and env_run.stderr.splitlines()[-1] == errors[0], env_run.stderr
    assert errors[0].startswith(f"error: the MLflow server http://127.0.0.1:{port} (MLFLOW_TRACKING_URI) does not answer")
