"""N trials running at once through a real ``mlflow server`` (SQLite backend, started here on
127.0.0.1) produce N complete child runs under one parent. The search uses the model-based
searcher (Optuna's TPE through Ray Tune) where optuna is installed, random search otherwise."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

try:
    import optuna  # noqa: F401

    SEARCHER = "optuna"
except ImportError:
    SEARCHER = "random"

from tests.pipelines.tune_helpers import BIN, cli, runs, write_params

pytest.importorskip("ray")
pytestmark = [pytest.mark.integration, pytest.mark.slow]
N, EPOCHS = 4, 6
TUNE = f"""
tune:
  num_samples: {N}
  max_concurrent_trials: {N}
  cpus_per_trial: 0.5
  scheduler: fifo
  searcher: {SEARCHER}
  eval_samples: 200
  space:
    fit.lr: {{loguniform: [3.0e-4, 3.0e-3]}}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """``mlflow server`` over a fresh SQLite store; yields (uri, store uri)."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = f"sqlite:///{folder / 'server.db'}"
    cmd = [str(BIN / "mlflow"), "server", "--backend-store-uri", store, "--host", "127.0.0.1", "--port", str(port),
           "--artifacts-destination", (folder / "artifacts").as_uri(), "--workers", "2"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            if urllib.request.urlopen(f"{url}/health", timeout=2).status == 200:
                break
        except OSError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, "mlflow server did not start"
        time.sleep(0.5)
    yield url, store
    proc.terminate()
    proc.wait(timeout=30)


def most_at_once(intervals: list[tuple[int, int]]) -> int:
    """The largest number of [start, end] intervals that share one instant."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], -x[1]))
    best = now = 0
    for _, step in events:
        now += step
        best = max(best, now)
    return best


def test_concurrent_trials_make_complete_child_runs(tune_root: Path, server: tuple[str, str]) -> None:
    from mlflow.tracking import MlflowClient

    url, store = server
    params = write_params(tune_root, "tune-concurrent.yaml", "tuneconcurrent", TUNE, epochs=EPOCHS)
    out = cli(tune_root, "tune", "--model", "vae", "--params", params, MLFLOW_TRACKING_URI=url)
    assert out.returncode == 0, out.stderr[-3000:]
    parents, children = runs(url, "tuneconcurrent")
    assert len(parents) == 1 and len(children) == N
    client = MlflowClient(tracking_uri=url)
    spans = []
    for run in children:
        assert run.info.status == "FINISHED" and run.data.tags["genmodels.outcome"] == "completed"
        assert "fit.lr" in run.data.params and run.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        history = client.get_metric_history(run.info.run_id, "fid")
        assert sorted(m.step for m in history) == list(range(EPOCHS)), "an epoch is missing or logged twice"
        spans.append((run.info.start_time, max(m.timestamp for m in history)))  # from the run's creation in the trial to its last epoch
    assert most_at_once(spans) == N, f"trials did not run at once: {spans}"
    assert runs(store, "tuneconcurrent")[1], "the runs are not in the server's store"
    assert parents[0].data.params["tune.searcher"] == SEARCHER
