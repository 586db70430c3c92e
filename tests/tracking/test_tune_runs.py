"""Tune's MLflow records against a real store (the default SQLite file): a parent run per
search, reopened on resume; a child run per trial, reopened by trial id, ended by the driver
from the trial's outcome; the best trial tagged."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient

from genmodels.tracking.store import reachable, tracking_uri
from genmodels.tracking.tune_runs import child_run, child_runs, finish_search, finish_trials, interrupt_search, start_search


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("project")


@pytest.fixture(autouse=True)
def default_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """No MLFLOW_TRACKING_URI (the default store) and a scratch working directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield
    os.environ.pop("MLFLOW_TRACKING_URI", None)


def test_search_trials_outcomes_and_resume(root: Path) -> None:
    uri = tracking_uri(root)
    client = MlflowClient(tracking_uri=uri)
    tracking = start_search(uri, root, "tune", "search-1", "vae", {"space": {"fit.lr": {"loguniform": [1e-4, 1e-2]}}, "num_samples": 3})
    parent = client.get_run(tracking["parent_run_id"])
    assert parent.info.run_name == "tune-vae" and parent.info.status == "RUNNING"
    assert parent.data.tags["genmodels.search"] == "search-1" and parent.data.tags["genmodels.state"] == "running"
    assert parent.data.params == {"space.fit.lr.loguniform": "[0.0001, 0.01]", "num_samples": "3"}

    with child_run(tracking, "trial-a", "a", {"fit.lr": 1e-3}, {"genmodels.node_id": "n1"}) as log:
        for epoch in range(2):
            log({"epoch": epoch, "fid": 10.0 - epoch, "loss/model": 1.0, "epoch_seconds": 0.1, "note": "text"})
    with pytest.raises(RuntimeError), child_run(tracking, "trial-b", "b", {"fit.lr": 5e-3}) as log:
        log({"epoch": 0, "fid": 20.0, "epoch_seconds": 0.1})
        raise RuntimeError("vae diverged")
    with child_run(tracking, "trial-c", "c", {"fit.lr": 2e-3}) as log:
        log({"epoch": 0, "fid": 30.0, "epoch_seconds": 0.1})
    assert client.get_run(child_runs(tracking)["a"].info.run_id).info.status == "RUNNING"  # the driver ends it
    assert child_runs(tracking)["b"].info.status == "FAILED"

    # interrupted, then resumed: the same parent run; trial a continues its own run, epoch 1 is not logged twice
    interrupt_search(tracking)
    assert client.get_run(tracking["parent_run_id"]).info.status == "KILLED"
    again = start_search(uri, root, "tune", "search-1", "vae", {"num_samples": 3}, reuse=True)
    assert again == tracking and client.get_run(tracking["parent_run_id"]).info.status == "RUNNING"
    with child_run(again, "trial-a", "a", {"fit.lr": 1e-3}) as log:
        for epoch in (1, 2, 3):
            log({"epoch": epoch, "fid": 10.0 - epoch, "epoch_seconds": 0.1})
    runs = child_runs(again)
    assert set(runs) == {"a", "b", "c"}
    a = runs["a"]
    assert [(m.step, m.value) for m in sorted(client.get_metric_history(a.info.run_id, "fid"), key=lambda m: m.step)] == [
        (0, 10.0), (1, 9.0), (2, 8.0), (3, 7.0)]  # fmt: skip
    assert a.data.params == {"fit.lr": "0.001"} and a.data.tags["genmodels.node_id"] == "n1" and "note" not in a.data.metrics

    finish_trials(again, {"a": ("completed", {"genmodels.epochs_run": 4}), "b": ("failed", {}), "c": ("stopped_early", {"genmodels.epochs_run": 1})}, "a")
    finish_search(again, {"best_fid": 7.0, "test_fid": 6.0}, {"fit.lr": 1e-3})
    runs = child_runs(again)
    assert {k: (r.info.status, r.data.tags["genmodels.outcome"]) for k, r in runs.items()} == {
        "a": ("FINISHED", "completed"), "b": ("FAILED", "failed"), "c": ("KILLED", "stopped_early")}  # fmt: skip
    assert runs["a"].data.tags["genmodels.best"] == "true" and "genmodels.best" not in runs["c"].data.tags
    assert runs["b"].data.tags["error"] == "RuntimeError: vae diverged"
    parent = client.get_run(tracking["parent_run_id"])
    assert parent.info.status == "FINISHED" and parent.data.metrics == {"best_fid": 7.0, "test_fid": 6.0}
    assert parent.data.tags["genmodels.best.fit.lr"] == "0.001" and parent.data.tags["genmodels.state"] == "finished"
    # a new search (not a resume) opens a parent of its own
    other = start_search(uri, root, "tune", "search-1", "vae", {"num_samples": 3})
    assert other["parent_run_id"] != tracking["parent_run_id"]


def test_no_best_trial_fails_and_no_tracking_records_nothing(root: Path) -> None:
    uri = tracking_uri(root)
    client = MlflowClient(tracking_uri=uri)
    tracking = start_search(uri, root, "tune-empty", "search-2", "gan", {})
    finish_search(tracking)
    assert client.get_run(tracking["parent_run_id"]).info.status == "FAILED"
    with child_run({}, "trial", "t", {"x": 1}) as log:
        log({"epoch": 0, "fid": 1.0})
    assert len(client.search_runs([tracking["experiment_id"]])) == 1


def test_reachable() -> None:
    assert reachable("sqlite:///x.db")
    assert not reachable("http://127.0.0.1:9", timeout=1.0)  # the discard port: nothing listens
