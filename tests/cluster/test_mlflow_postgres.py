"""The shared tracking server of ``cluster/mlflow_server.sh``: a real PostgreSQL and a real
``mlflow server`` on free loopback ports, a real tiny pipeline run (prepare -> evaluator ->
train/sample/evaluate of a small VAE through the ``genmodels`` CLI) recorded into it, then read
back twice: through MLflow's client, and straight from PostgreSQL's tables (so the store is
provably the database, not a file beside the project)."""

from __future__ import annotations

import glob
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.tiny_pipeline import tiny_params

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # minutes: real servers, CLI processes
REPO = Path(__file__).parents[2]
SCRIPT = REPO / "cluster" / "mlflow_server.sh"
EXPERIMENT = "pg-tiny"
PARAMS = tiny_params(EXPERIMENT)


def pg_binaries() -> bool:
    """The script's own lookup: initdb and pg_ctl on PATH, or Debian's /usr/lib/postgresql/*/bin."""
    if shutil.which("initdb") and shutil.which("pg_ctl"):
        return True
    return any(os.access(f"{d}/initdb", os.X_OK) and os.access(f"{d}/pg_ctl", os.X_OK) for d in glob.glob("/usr/lib/postgresql/*/bin"))


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:  # held open together, so the ports differ
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Server:
    uri: str
    env: dict[str, str]
    base: Path
    pg_port: int
    mlflow_port: int

    def script(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([str(SCRIPT), *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False)

    def connect(self):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.pg_port, user="genmodels", dbname="mlflow", passfile=str(self.base / "pgpass"), connect_timeout=10)

    def log_tail(self) -> str:
        logs = [self.base / "mlflow.log", self.base / "pg" / "postgres.log", self.base / "pg" / "initdb.log"]
        return "\n".join(f"--- {p}\n{p.read_text()[-3000:]}" for p in logs if p.is_file())


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    if not pg_binaries():
        pytest.skip("no PostgreSQL binaries (initdb, pg_ctl) on PATH or under /usr/lib/postgresql/*/bin; .ci/run installs Debian's postgresql")
    base = Path(tempfile.mkdtemp(prefix="gmpg", dir="/tmp"))  # under /tmp: the postgres account must reach it
    pg_port, mlflow_port = free_ports(2)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(GENMODELS_PG_DIR=str(base), GENMODELS_PG_PORT=str(pg_port), GENMODELS_MLFLOW_PORT=str(mlflow_port), GENMODELS_MLFLOW_WORKERS="1")
    srv = Server("", env, base, pg_port, mlflow_port)
    try:
        up = srv.script("up")
        assert up.returncode == 0, f"{up.stdout}\n{up.stderr}\n{srv.log_tail()}"
        srv.uri = re.search(r"export MLFLOW_TRACKING_URI=(\S+)", up.stdout).group(1)
        yield srv
    finally:
        srv.script("down", timeout=120)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def project(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny project whose stages ran with MLFLOW_TRACKING_URI naming the server."""
    root = tmp_path_factory.mktemp("pg-project")
    (root / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI")}
    env.update(GENMODELS_ROOT=str(root), MLFLOW_TRACKING_URI=server.uri, RAY_USAGE_STATS_ENABLED="0", PATH=f"{Path(sys.executable).parent}:{env['PATH']}")
    for args in (["prepare"], ["evaluator"], ["train", "vae"], ["sample", "vae"], ["evaluate", "vae"]):
        out = subprocess.run([sys.executable, "-m", "pipelines.cli", *args], env=env, capture_output=True, text=True, timeout=600, check=False)
        assert out.returncode == 0, f"genmodels {' '.join(args)}: {out.stderr[-3000:]}\n{server.log_tail()}"
    return root


def the_run(server: Server, root: Path):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=server.uri)
    exp = client.get_experiment_by_name(EXPERIMENT)
    assert exp is not None
    (run,) = client.search_runs([exp.experiment_id], filter_string="attributes.run_name = 'vae'")
    assert run.info.run_id == json.loads((root / "models/vae/mlflow.json").read_text())["run_id"]
    return client, run


def test_the_pipeline_run_lands_in_the_server_params_metrics_and_artifacts(server: Server, project: Path) -> None:
    client, run = the_run(server, project)
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["vae.fit.epochs"] == "2" and params["data.name"] == "digits" and params["model"] == "vae"
    metrics = run.data.metrics
    for key in ("fid", "is", "train_seconds", "nll_bits_per_dim"):
        assert math.isfinite(metrics[key]), key
    assert metrics["fid"] == pytest.approx(json.loads((project / "metrics/vae.json").read_text())["fid"])
    assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "epoch_seconds")) == [0, 1]  # one per epoch
    losses = [k for k in metrics if k.startswith("loss_")]
    assert losses and all(len(client.get_metric_history(run.info.run_id, k)) == 2 for k in losses)
    top = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"checkpoint", "metrics", "samples"} <= top
    # served artifacts: the files sit in the server's artifact store, not in the project
    stored = list((server.base / "artifacts").rglob("vae.json"))
    assert stored and json.loads(stored[0].read_text())["fid"] == pytest.approx(metrics["fid"])
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")
    assert not (project / "mlflow.db").exists() and not (project / "mlartifacts").exists()


def test_the_rows_are_in_postgresql(server: Server, project: Path) -> None:
    _, run = the_run(server, project)
    with server.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT version()")
        assert cur.fetchone()[0].startswith("PostgreSQL")
        cur.execute(
            "SELECT r.name, r.status FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id WHERE e.name = %s AND r.run_uuid = %s",
            (EXPERIMENT, run.info.run_id),
        )
        assert cur.fetchall() == [("vae", "FINISHED")]
        cur.execute("SELECT key, value FROM params WHERE run_uuid = %s", (run.info.run_id,))
        assert dict(cur.fetchall()) == run.data.params
        cur.execute("SELECT value FROM latest_metrics WHERE run_uuid = %s AND key = 'fid'", (run.info.run_id,))
        assert cur.fetchone()[0] == pytest.approx(run.data.metrics["fid"])
        cur.execute("SELECT count(*) FROM metrics WHERE run_uuid = %s", (run.info.run_id,))
        assert cur.fetchone()[0] >= len(run.data.metrics)


def test_down_stops_both_and_up_finds_the_runs_again(server: Server, project: Path) -> None:
    _, run = the_run(server, project)
    down = server.script("down", timeout=120)
    assert down.returncode == 0, down.stderr
    assert not listening(server.mlflow_port) and not listening(server.pg_port)
    status = server.script("status")
    assert status.returncode == 3 and "postgresql: stopped" in status.stdout
    up = server.script("up")
    assert up.returncode == 0, f"{up.stderr}\n{server.log_tail()}"
    assert f"MLFLOW_TRACKING_URI={server.uri}" in up.stdout  # the same ports as recorded
    _, again = the_run(server, project)
    assert again.info.run_id == run.info.run_id and again.data.metrics["fid"] == run.data.metrics["fid"]
