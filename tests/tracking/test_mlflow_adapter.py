"""The MLflow adapter against a real store (tune's runs: test_tune_runs.py): the project's default SQLite
file (``<root>/mlflow.db``, artifacts under ``<root>/mlartifacts``), read back with
``MlflowClient``. One store serves the module (creating one costs seconds); every test
uses its own experiment."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient

from genmodels.tracking.runs import flatten, model_run, write_run_file
from genmodels.tracking.store import tracking_uri
from pipelines.paths import RUN_FILE


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("project")


@pytest.fixture(scope="module", autouse=True)
def restore_mlflow_state():
    """``mlflow.set_tracking_uri`` is process-global and exports MLFLOW_TRACKING_URI: undo both."""
    before = os.environ.get("MLFLOW_TRACKING_URI")
    yield
    mlflow.set_tracking_uri(None)
    if before is not None:
        os.environ["MLFLOW_TRACKING_URI"] = before


@pytest.fixture(autouse=True)
def default_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """No MLFLOW_TRACKING_URI (the default store), a scratch working directory (MLflow's default
    artifact root is ``./mlruns``); no run left active and the variable unset after a test."""
    monkeypatch.chdir(tmp_path)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    yield
    while mlflow.active_run() is not None:
        mlflow.end_run()
    os.environ.pop("MLFLOW_TRACKING_URI", None)


@pytest.fixture
def client(root: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=tracking_uri(root))


def only_run(client: MlflowClient, experiment: str):
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1, [r.info.run_id for r in runs]
    return runs[0]


def test_the_default_store_is_the_sqlite_file_at_the_root(root: Path, client: MlflowClient) -> None:
    assert tracking_uri(root) == f"sqlite:///{(root / 'mlflow.db').resolve()}"
    with model_run(root, "default-store", "vae", root / "runs" / RUN_FILE, new=True) as run:
        pass
    assert (root / "mlflow.db").is_file()
    stored = client.get_run(run.run_id)
    assert stored.info.status == "FINISHED" and stored.info.run_name == "vae"
    assert stored.data.tags["genmodels.model"] == "vae"
    assert mlflow.active_run() is None


def test_params_are_flattened_to_dotted_string_keys(root: Path, client: MlflowClient) -> None:
    params = {"model": {"hidden": [32, 16], "latent_dim": 4, "prior": {"kind": "vamp", "k": None}},
              "fit": {"lr": 0.001, "betas": (0.9, 0.99)}, "seed": 3}  # fmt: skip
    expected = {"model.hidden": "[32, 16]", "model.latent_dim": "4", "model.prior.kind": "vamp", "model.prior.k": "None",
                "fit.lr": "0.001", "fit.betas": "[0.9, 0.99]", "seed": "3"}  # fmt: skip
    assert flatten(params) == expected
    many = {f"p{i:03d}": i for i in range(250)}  # more than one log_params batch of 100
    with model_run(root, "params", "vae", root / "params" / RUN_FILE, new=True) as run:
        run.log_params(params)
        run.log_params({"grid": many})
    stored = client.get_run(run.run_id).data.params
    assert {k: stored[k] for k in expected} == expected
    assert {k: v for k, v in stored.items() if k.startswith("grid.")} == {f"grid.{k}": str(v) for k, v in many.items()}


def test_metrics_and_the_history_are_recorded_per_step(root: Path, client: MlflowClient) -> None:
    history = [{"epoch": float(e), "loss/model": 1.0 / (e + 1), "train_seconds": 2.0 * (e + 1)} for e in range(3)]
    with model_run(root, "metrics", "vae", root / "metrics" / RUN_FILE, new=True) as run:
        run.log_history(history)
        run.log_metrics({"fid": 12.5, "ppl": None, "kid": float("nan"), "is": float("inf")})
        run.log_metrics({"fid": 11.0}, step=7)
    rid = run.run_id
    loss = client.get_metric_history(rid, "loss_model")  # "/" is not allowed in an MLflow key
    assert [(m.step, m.value) for m in sorted(loss, key=lambda m: m.step)] == [(0, 1.0), (1, 0.5), (2, 1.0 / 3)]
    assert [m.step for m in client.get_metric_history(rid, "train_seconds")] == [0, 1, 2]
    assert "epoch" not in client.get_run(rid).data.metrics  # the step, not a metric
    fid = sorted((m.step, m.value) for m in client.get_metric_history(rid, "fid"))
    assert fid == [(0, 12.5), (7, 11.0)]
    assert not {"ppl", "kid", "is"} & set(client.get_run(rid).data.metrics)  # null and non-finite values are skipped


def test_a_run_reopened_from_its_run_file_is_the_same_run(root: Path, client: MlflowClient) -> None:
    run_file = root / "reopen" / RUN_FILE
    with model_run(root, "reopen", "gan", run_file, new=True) as first:
        first.log_params({"seed": 1})
        write_run_file(run_file, first)
    assert json.loads(run_file.read_text()) == {"run_id": first.run_id}
    with model_run(root, "reopen", "gan", run_file, new=False) as again:
        again.log_metrics({"fid": 3.0})
        again.set_tags({"stage": "evaluate", "skipped": None})
    assert again.run_id == first.run_id
    stored = only_run(client, "reopen")
    assert stored.info.run_id == first.run_id and stored.info.status == "FINISHED"
    assert stored.data.params == {"seed": "1"} and stored.data.metrics == {"fid": 3.0}
    assert stored.data.tags["stage"] == "evaluate" and "skipped" not in stored.data.tags
    with model_run(root, "reopen", "gan", run_file, new=True) as fresh:  # new=True ignores the file
        pass
    assert fresh.run_id != first.run_id


def test_a_run_file_of_another_store_starts_a_new_run(root: Path, client: MlflowClient) -> None:
    run_file = root / "stale" / RUN_FILE
    run_file.parent.mkdir(parents=True)
    run_file.write_text(json.dumps({"run_id": "0123456789abcdef0123456789abcdef"}))
    with model_run(root, "stale", "vae", run_file, new=False) as run:
        pass
    assert run.run_id != "0123456789abcdef0123456789abcdef"
    assert only_run(client, "stale").info.status == "FINISHED"


def test_an_exception_marks_the_run_failed_with_the_error(root: Path, client: MlflowClient) -> None:
    with pytest.raises(ValueError, match="boom"), model_run(root, "failing", "vae", root / "failing" / RUN_FILE, new=True) as run:
        run.log_metrics({"loss": 1.0})
        raise ValueError("boom")
    assert mlflow.active_run() is None  # ended, so the next stage can open its own
    stored = client.get_run(run.run_id)
    assert stored.info.status == "FAILED"
    assert stored.data.tags["error"] == "ValueError: boom" and stored.data.tags["mlflow.note.content"] == "boom"
    assert stored.data.metrics == {"loss": 1.0}


def test_an_interruption_marks_the_run_killed_with_the_reason(root: Path, client: MlflowClient) -> None:
    import signal

    from genmodels.training.interrupt import TrainingInterrupted

    reason = "train vae: interrupted by SIGTERM, last checkpoint after epoch 2 of 9"
    with pytest.raises(TrainingInterrupted), model_run(root, "stopped", "vae", root / "stopped" / RUN_FILE, new=True) as run:
        raise TrainingInterrupted(signal.SIGTERM, reason)
    stored = client.get_run(run.run_id)
    assert stored.info.status == "KILLED"
    assert stored.data.tags["mlflow.note.content"] == reason and stored.data.tags["error"] == f"TrainingInterrupted: {reason}"
    with pytest.raises(KeyboardInterrupt), model_run(root, "stopped", "vae", root / "stopped" / RUN_FILE, new=True) as run:
        raise KeyboardInterrupt
    assert client.get_run(run.run_id).info.status == "KILLED"


def test_artifacts_are_stored_under_the_root(root: Path, client: MlflowClient, tmp_path: Path) -> None:
    picture = tmp_path / "grid.png"
    picture.write_bytes(b"\x89PNG not really")
    folder = tmp_path / "checkpoint"
    (folder / "sub").mkdir(parents=True)
    (folder / "model.pt").write_bytes(b"weights")
    (folder / "sub" / "config.json").write_text("{}")
    with model_run(root, "artifacts", "vae", root / "artifacts" / RUN_FILE, new=True) as run:
        run.log_artifact(picture)
        run.log_artifact(folder, "checkpoint")
    top = {a.path for a in client.list_artifacts(run.run_id)}
    assert top == {"grid.png", "checkpoint"}
    assert {a.path for a in client.list_artifacts(run.run_id, "checkpoint")} == {"checkpoint/model.pt", "checkpoint/sub"}
    local = Path(client.download_artifacts(run.run_id, "checkpoint", str(tmp_path / "down")))
    assert (local / "model.pt").read_bytes() == b"weights" and (local / "sub" / "config.json").read_text() == "{}"


def test_the_default_store_keeps_artifacts_beside_it_in_a_fresh_process(root: Path, client: MlflowClient, tmp_path: Path) -> None:
    mlflow.set_tracking_uri(None)  # as in a new process: no tracking URI chosen yet
    picture = tmp_path / "grid.png"
    picture.write_bytes(b"\x89PNG not really")
    with model_run(root, "fresh-process", "vae", root / "fresh" / RUN_FILE, new=True) as run:
        run.log_artifact(picture)
    exp = client.get_experiment_by_name("fresh-process")
    assert exp.artifact_location == (root / "mlartifacts").resolve().as_uri()
    (found,) = client.search_runs([exp.experiment_id])
    stored = list((root / "mlartifacts" / found.info.run_id).rglob("grid.png"))
    assert len(stored) == 1 and stored[0].read_bytes() == picture.read_bytes()


def test_the_default_store_keeps_artifacts_beside_it_once_its_uri_is_set(root: Path, client: MlflowClient, tmp_path: Path) -> None:
    """The same check when the process already uses this store (the second stage of a process)."""
    mlflow.set_tracking_uri(tracking_uri(root))
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    with model_run(root, "warm-process", "vae", root / "warm" / RUN_FILE, new=True) as run:
        run.log_artifact(Path(__file__))
    assert client.get_experiment_by_name("warm-process").artifact_location == (root / "mlartifacts").resolve().as_uri()
    assert list((root / "mlartifacts").rglob(Path(__file__).name))


def test_tracking_uri_from_the_environment_wins(root: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    uri = f"sqlite:///{(root / 'mlflow.db').resolve()}"  # the same store, named explicitly
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    assert tracking_uri(tmp_path / "elsewhere") == uri
    with model_run(tmp_path / "elsewhere", "from-env", "vae", tmp_path / RUN_FILE, new=True) as run:
        run.log_metrics({"fid": 1.0})
    assert not (tmp_path / "elsewhere" / "mlflow.db").exists()
    assert MlflowClient(uri).get_run(run.run_id).data.metrics == {"fid": 1.0}
