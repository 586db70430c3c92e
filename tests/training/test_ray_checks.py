"""A Ray cluster that cannot run the request stops the stage at once, in one line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genmodels.training.ray_checks import RayUnavailable, check_capacity, probe_address, split_address


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_addresses_split_into_host_and_port() -> None:
    assert split_address("127.0.0.1:6380") == ("127.0.0.1", 6380)
    assert split_address("ray://head.example:10002") == ("head.example", 10002)
    assert split_address("ray://head") == ("head", 10001)
    assert split_address("head") == ("head", 6379)
    assert split_address("auto") is None
    with pytest.raises(RayUnavailable, match="not host:port"):
        split_address("head:port")


def test_an_address_where_nothing_listens_fails_fast_with_what_to_do() -> None:
    port = closed_port()
    start = time.perf_counter()
    with pytest.raises(RayUnavailable, match=rf"no Ray cluster at 127.0.0.1:{port} \(.*\); start one"):
        probe_address(f"127.0.0.1:{port}")
    assert time.perf_counter() - start < 20  # a 5 s connect timeout, not Ray's minutes of retries


def test_a_listening_address_passes_the_probe() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        probe_address(f"127.0.0.1:{s.getsockname()[1]}")


def test_more_workers_than_the_cluster_has_names_both_and_the_keys() -> None:
    with pytest.raises(RayUnavailable) as err:
        check_capacity({"CPU": 2.0}, nodes=1, num_workers=64, cpus_per_worker=1.0, use_gpu=False)
    assert str(err.value).startswith("64 workers need 64 CPUs, but the Ray cluster has 2 on 1 node(s); lower scaling.num_workers")
    with pytest.raises(RayUnavailable, match="2 workers need 2 GPUs, but the Ray cluster has 0"):
        check_capacity({"CPU": 8.0}, nodes=2, num_workers=2, cpus_per_worker=1.0, use_gpu=True)
    check_capacity({"CPU": 4.0, "GPU": 2.0}, nodes=2, num_workers=2, cpus_per_worker=2.0, use_gpu=True)


def test_autoscaling_clusters_skip_the_capacity_check(monkeypatch) -> None:
    monkeypatch.setenv("GENMODELS_RAY_AUTOSCALING", "1")
    check_capacity({"CPU": 2.0}, nodes=1, num_workers=64, cpus_per_worker=1.0, use_gpu=False)


@pytest.mark.integration
def test_train_with_an_unreachable_ray_address_stops_within_seconds(tmp_path: Path) -> None:
    """``RAY_ADDRESS`` where nothing listens: one line, exit 1, no model folder (about 10 s on an idle machine, mostly imports)."""
    (tmp_path / "params.yaml").write_text("data: {name: digits, limit: 100}\nmodels: {g: gmm}\ng: {model: {n_components: 2}}\nscaling: {backend: ray}\n")
    env = {**os.environ, "GENMODELS_ROOT": str(tmp_path), "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    run = lambda *args, **kw: subprocess.run([sys.executable, "-m", "pipelines.cli", *args], check=False, env={**env, **kw}, capture_output=True, text=True, timeout=120)
    assert run("prepare").returncode == 0
    port = closed_port()
    out = run("train", "g", RAY_ADDRESS=f"127.0.0.1:{port}")
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert f"error: no Ray cluster at 127.0.0.1:{port}" in out.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "models" / "g").exists()


@pytest.mark.parametrize(
    ("given", "env", "expected", "probed"),
    [
        (None, None, "local", False),  # not the latest `ray start` cluster on this machine
        (None, "10.0.0.1:6379", "10.0.0.1:6379", True),
        ("auto", "10.0.0.1:6379", "auto", True),
        ("local", None, "local", False),
    ],
)
def test_ensure_ray_starts_a_new_local_instance_unless_an_address_is_named(
    monkeypatch: pytest.MonkeyPatch, given: str | None, env: str | None, expected: str, probed: bool
) -> None:
    ray = pytest.importorskip("ray")
    from genmodels.training import ray_adapter

    calls: dict[str, list] = {"init": [], "probe": []}
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray_adapter, "_init", lambda address: calls["init"].append(address))
    monkeypatch.setattr(ray_adapter, "probe_address", lambda address: calls["probe"].append(address))
    if env is None:
        monkeypatch.delenv("RAY_ADDRESS", raising=False)
    else:
        monkeypatch.setenv("RAY_ADDRESS", env)
    ray_adapter.ensure_ray(given)
    assert calls["init"] == [expected]
    assert calls["probe"] == ([expected] if probed else [])
