"""The warm runner (pipelines/warm.py): a command run in a fork of the runner writes the same bytes,
prints the same lines and exits with the same code as the same command run cold; signals reach
it; a client killed outright takes its fork with it; the runner serves only its own environment."""

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

from pipelines import warm, warm_runner
from tests.tiny_pipeline import tiny_params
from tests.warm_runners import WarmRunners

CLI = str(Path(sys.executable).parent / "genmodels")
# Files every stage below writes whose bytes do not depend on the clock.
STAGES = [["check"], ["prepare"], ["train", "gmm"], ["sample", "gmm"]]
DETERMINISTIC = ["build/params_resolved.json", "data/prepared/train.parquet", "data/prepared/test.parquet", "data/prepared/card.json",
                 "models/gmm/model.pt", "samples/gmm.parquet"]  # fmt: skip


@pytest.fixture
def runner_env():
    """An environment whose runners live in a private folder (and stop when the test ends)."""
    runners = WarmRunners()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update({**runners.env(), warm.IDLE_ENV: "60"})
    yield env
    runners.stop()


def project(root: Path, models: tuple[str, ...] = ("gmm",), **sections: dict) -> Path:
    root.mkdir()
    (root / "params.yaml").write_text(yaml.safe_dump(tiny_params("warm-test", models, **sections)))
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def run(args: list[str], root: Path, env: dict[str, str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], cwd=root, env=env, capture_output=True, text=True, timeout=300, **kw)


def wait_for_runner(env: dict[str, str], timeout: float = 120.0) -> int:
    """The pid of the (one) runner serving in the test's folder, once its socket is there."""
    folder = Path(env[warm.DIR_ENV])
    deadline = time.monotonic() + timeout
    while not list(folder.glob("*.sock")):
        logs = "".join(p.read_text() for p in folder.glob("*.log"))
        assert time.monotonic() < deadline and "Error" not in logs, f"the runner did not start: {logs[-2000:]}"
        time.sleep(0.2)
    line = next(line for log in folder.glob("*.log") for line in log.read_text().splitlines() if ": serving" in line)
    return int(line.split()[2].rstrip(":"))


@pytest.mark.slow
def test_warm_commands_write_the_same_bytes_and_lines_as_cold(tmp_path: Path, runner_env: dict[str, str]) -> None:
    cold, hot = project(tmp_path / "cold"), project(tmp_path / "warm")
    cold_env = {**runner_env, warm.ENABLE_ENV: "0"}
    first = run(["check"], hot, runner_env)  # cold itself; starts the runner
    assert first.returncode == 0, first.stderr
    wait_for_runner(runner_env)
    for args in STAGES:
        a, b = run(args, cold, cold_env), run([*args], hot, {**runner_env, warm.RUSAGE_ENV: str(tmp_path / "rusage.json")})
        assert a.returncode == b.returncode == 0, (args, a.stderr[-2000:], b.stderr[-2000:])
        usage = json.loads((tmp_path / "rusage.json").read_text())  # written by a warm client only
        assert usage["user"] > 0 and usage["maxrss_kb"] > 0
        (tmp_path / "rusage.json").unlink()
        assert a.stdout == b.stdout, args
    for rel in DETERMINISTIC:
        assert (cold / rel).read_bytes() == (hot / rel).read_bytes(), rel
    learned = [line for f in Path(runner_env[warm.DIR_ENV]).glob("*.modules") for line in f.read_text().split()]
    assert learned and not [m for m in learned if m.split(".")[0] in warm.OWN_PACKAGES]  # third-party modules the forks imported
    # a user error: the same one line and exit code
    a, b = run(["train", "nosuch"], cold, cold_env), run(["train", "nosuch"], hot, runner_env)
    assert (a.returncode, a.stderr) == (b.returncode, b.stderr) and b.returncode == 2 and b.stderr.startswith("error: ")
    a, b = run(["chek"], cold, cold_env), run(["chek"], hot, runner_env)
    assert (a.returncode, a.stderr) == (b.returncode, b.stderr) == (2, a.stderr)


def _children(pid: int) -> set[int]:
    out = set()
    for task in Path("/proc").glob("[0-9]*"):
        try:
            if int((task / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.add(int(task.name))
        except (OSError, ValueError, IndexError):
            pass
    return out


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_signal_to_the_client_reaches_its_fork(tmp_path: Path, runner_env: dict[str, str], sig: int) -> None:
    """SIGTERM is forwarded (the trainer checkpoints and stops, as cold); SIGKILL of the client kills the fork."""
    root = project(tmp_path / "p", ("vae",), vae={"model": {"hidden": [256, 256], "latent_dim": 8}, "fit": {"epochs": 2000, "batch_size": 16}})
    assert run(["prepare"], root, runner_env).returncode == 0
    runner = wait_for_runner(runner_env)
    client = subprocess.Popen([CLI, "train", "vae"], cwd=root, env=runner_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (forks := _children(runner)):
        assert client.poll() is None and time.monotonic() < deadline, client.communicate()
        time.sleep(0.05)
    time.sleep(3)  # into training
    client.send_signal(sig)
    _, err = client.communicate(timeout=120)
    deadline = time.monotonic() + 30
    while _children(runner) & forks:
        assert time.monotonic() < deadline, "the fork outlived its client"
        time.sleep(0.1)
    if sig == signal.SIGTERM:  # the trainer's own handling of SIGTERM ran in the fork: one line, exit 128 + 15
        assert client.returncode == 143, err[-2000:]
        assert err.strip().splitlines()[-1].startswith("error: "), err[-2000:]
    else:
        assert client.returncode == -signal.SIGKILL


def test_the_runner_key_covers_import_time_settings_only() -> None:
    base = {"PATH": "/usr/bin", "OMP_NUM_THREADS": "1"}
    key = warm.runner_key(base)
    assert warm.runner_key({**base, "GENMODELS_ROOT": "/elsewhere", "MLFLOW_TRACKING_URI": "http://x"}) == key
    for name, value in [("OMP_NUM_THREADS", "2"), ("PYTHONHASHSEED", "1"), ("CUDA_VISIBLE_DEVICES", "0"), ("LD_PRELOAD", "x.so")]:
        assert warm.runner_key({**base, name: value}) != key, name


def test_ui_and_tune_and_off_run_cold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(warm.ENABLE_ENV, raising=False)
    assert warm._wanted(["train", "vae"]) and warm._wanted(["--debug", "evaluate", "gan"])
    assert not warm._wanted(["ui"]) and not warm._wanted(["tune", "--model", "vae"]) and not warm._wanted([])
    monkeypatch.setenv(warm.ENABLE_ENV, "0")
    assert not warm._wanted(["train", "vae"])


@pytest.mark.slow
def test_the_runner_forgets_the_projects_modules() -> None:
    """After the preload only third-party modules stay: a fork imports the project's code from disk."""
    code = (
        "import json, sys\nfrom pipelines import warm_runner\nwarm_runner._preload()\n"
        "print(json.dumps([sorted(m for m in sys.modules if m.split('.')[0] in ('genmodels', 'pipelines')), 'torch' in sys.modules, 'mlflow' in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert json.loads(out.stdout.splitlines()[-1]) == [["pipelines.warm", "pipelines.warm_runner"], True, True]
