"""The default store of a DVC experiment's temporary workspace is the repository's own, and
several processes can start on one SQLite store at once (``dvc queue start -j N``).

The end-to-end check with real ``dvc exp run --queue`` is tests/integration/test_dvc_exp.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from genmodels.tracking.presentation import experiment_tags
from genmodels.tracking.store import artifact_location, in_temporary_workspace, store_root, tracking_uri


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with a DVC temporary experiment workspace inside, as ``dvc queue start`` makes one:
    ``<repo>/.dvc/tmp/exps/<tmpdir>/`` holding a copy of the repository (its own ``.dvc/``)."""
    for var in ("MLFLOW_TRACKING_URI", "DVC_ROOT", "DVC_EXP_NAME", "DVC_EXP_BASELINE_REV"):
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "repo"
    for d in (".dvc", "sub", ".dvc/tmp/exps/tmpk2j3/.dvc", ".dvc/tmp/exps/tmpk2j3/sub"):
        (root / d).mkdir(parents=True)
    return root


def test_outside_an_experiment_the_store_is_the_root_itself(repo: Path) -> None:
    assert store_root(repo) == repo.resolve() and store_root(repo / "sub") == (repo / "sub").resolve()
    assert tracking_uri(repo) == f"sqlite:///{repo.resolve() / 'mlflow.db'}"
    assert not in_temporary_workspace(repo)


def test_dvc_root_leads_from_the_temporary_workspace_to_the_repository(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workspace = repo / ".dvc/tmp/exps/tmpk2j3"
    monkeypatch.setenv("DVC_ROOT", str(repo))  # what DVC sets for a queued experiment's stages
    assert store_root(workspace) == repo.resolve()
    assert store_root(workspace / "sub") == (repo / "sub").resolve()  # a project in a subfolder keeps its place
    assert tracking_uri(workspace) == f"sqlite:///{repo.resolve() / 'mlflow.db'}"
    assert artifact_location(workspace) == (repo / "mlartifacts").resolve().as_uri()
    assert in_temporary_workspace(workspace) and not in_temporary_workspace(repo)


def test_a_stage_run_by_hand_in_the_workspace_finds_the_repository_by_its_path(repo: Path) -> None:
    assert store_root(repo / ".dvc/tmp/exps/tmpk2j3") == repo.resolve()


def test_dvc_root_of_another_repository_changes_nothing(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv("DVC_ROOT", str(repo))  # e.g. the test suite itself run from a DVC stage
    assert store_root(other) == other.resolve()
    monkeypatch.setenv("DVC_ROOT", str(repo / ".dvc/tmp/exps/tmpk2j3"))  # a DVC that points DVC_ROOT at the copy
    assert store_root(repo / ".dvc/tmp/exps/tmpk2j3") == repo.resolve()  # the path still says where it came from


def test_the_environment_still_wins(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DVC_ROOT", str(repo))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    assert tracking_uri(repo / ".dvc/tmp/exps/tmpk2j3") == "http://127.0.0.1:5999"


def test_experiment_tags_name_the_dvc_experiment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    monkeypatch.delenv("DVC_EXP_BASELINE_REV", raising=False)
    assert experiment_tags() == {}
    monkeypatch.setenv("DVC_EXP_NAME", "lucky-bear")
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", "a" * 40)
    assert experiment_tags() == {"dvc.exp_name": "lucky-bear", "dvc.exp_baseline_rev": "a" * 40}


WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from genmodels.tracking.publish import log_report_run, register_version
    from genmodels.tracking.runs import closed_run, model_run, write_run_file

    root, who, start = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    time.sleep(max(0.0, start - time.time()))  # every writer opens the new store at the same moment
    run_file = root / who / "mlflow.json"
    for epochs in range(2):
        with model_run(root, "race", who, run_file, new=True) as run:
            run.log_params({"fit": {"epochs": epochs}})
            for step in range(3):
                run.log_metrics({"loss": float(step)}, step=step)
            write_run_file(run_file, run)
        with closed_run(root, "race", who, run_file) as run:
            run.log_metrics({"fid": 1.0})
        register_version(root, "race-best", run.run_id, "checkpoint", {"who": who}, who)
    """
)


@pytest.mark.slow  # several processes importing MLflow at once: ~25 s, in make test-slow
def test_writers_starting_together_on_a_new_sqlite_store_all_record(tmp_path: Path) -> None:
    """Three processes open the same new SQLite store at the same instant (as ``dvc queue start -j 3``
    stages can): without the store lock MLflow's schema creation races ("table ... already exists")
    and two processes create the same experiment (UNIQUE constraint failed)."""
    from mlflow.tracking import MlflowClient

    root = tmp_path / "project"
    root.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "DVC_ROOT", "DVC_EXP_NAME")}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    start = time.time() + 12  # after every interpreter has imported mlflow (slow on a loaded machine)
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(root), who, str(start)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for who in ("a", "b", "c")]  # fmt: skip
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], "\n".join(o[-3000:] for o in outs)
    client = MlflowClient(tracking_uri=tracking_uri(root))
    (exp,) = [e for e in client.search_experiments() if e.name == "race"]
    assert exp.artifact_location == (root / "mlartifacts").resolve().as_uri()
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 6 and {r.info.status for r in runs} == {"FINISHED"}
    assert sorted((r.info.run_name, r.data.params["fit.epochs"]) for r in runs) == [(w, e) for w in "abc" for e in "01"]
    assert all(r.data.metrics["fid"] == 1.0 for r in runs)
    versions = client.search_model_versions("name = 'race-best'")
    assert sorted(int(v.version) for v in versions) == list(range(1, 7))  # one version per run, none lost or doubled


def test_the_store_lock_is_reentrant_and_excludes_other_processes(tmp_path: Path) -> None:
    from genmodels.tracking.store import store_lock

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    probe = "import sys; from genmodels.tracking.store import store_lock\n" \
            "print('ready', flush=True)\nwith store_lock(sys.argv[1]): print('got it')"  # fmt: skip
    with store_lock(uri), store_lock(uri):  # nested in one process: no deadlock
        other = subprocess.Popen([sys.executable, "-c", probe, uri], stdout=subprocess.PIPE, text=True)
        assert other.stdout.readline().strip() == "ready"
        with pytest.raises(subprocess.TimeoutExpired):
            other.wait(timeout=3)  # another process waits while this one holds it
    assert other.communicate(timeout=60)[0].strip() == "got it"
