"""The one local MLflow server launcher (genmodels.tracking.server), shared by ``genmodels ui``
and Tune's :func:`tracking_server`."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from genmodels.errors import GenmodelsError
from genmodels.tracking.server import free_port, port_free, server_command, tracking_server
from genmodels.tracking.store import artifact_location


def test_the_command_serves_the_projects_store_with_its_artifacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    cmd = server_command(tmp_path, "127.0.0.1", 5123)
    assert Path(cmd[0]).name == "mlflow" and cmd[1] == "server"
    args = dict(zip(cmd[2::2], cmd[3::2], strict=True))
    assert args == {"--backend-store-uri": f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}", "--host": "127.0.0.1", "--port": "5123",
                    "--artifacts-destination": artifact_location(tmp_path), "--workers": "1"}  # fmt: skip


def test_a_store_that_is_already_a_server_is_not_served_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://10.0.0.5:5000")
    with pytest.raises(GenmodelsError, match=r"MLFLOW_TRACKING_URI is already a server \(http://10.0.0.5:5000\)"):
        server_command(tmp_path, "127.0.0.1", 5000)
    with tracking_server(tmp_path) as uri:  # Tune writes to the user's server directly; nothing is started
        assert uri == "http://10.0.0.5:5000"
    assert not (tmp_path / "mlflow.db").exists()


def test_ports() -> None:
    port = free_port()
    assert port_free("127.0.0.1", port)
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        assert not port_free("127.0.0.1", port)
