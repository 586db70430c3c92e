"""Presets through DVC itself (docs/presets.md), in a temporary git + DVC copy of the project.

Fast: DVC reads ``presets/mnist5k/dvc.yaml`` with the preset's own ``params.yaml`` (its models),
and its ``check`` stage runs in the preset folder. Slow: a tiny preset runs end to end with
``dvc repro presets/tiny/dvc.yaml`` beside a committed default (root) run, and neither
touches the other's outputs, dvc.lock or MLflow experiment; switching back and forth reruns
nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.integration.shell import CLEAN_ENV, git_commit
from tests.integration.shell import sh as _sh
from tests.tiny_pipeline import tiny_params

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]
STORE = ("mlflow.db", "mlartifacts")  # the project's MLflow store: shared by the presets


def sh(cwd: Path, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    """:func:`tests.integration.shell.sh` with single-threaded stages and a 15-minute limit."""
    return _sh(cwd, *cmd, check=check, timeout=900, threads=1)


def copy_project(repo: Path, presets: dict[str, dict]) -> Path:
    """The project's code, dvc.yaml and .gitignore in a new git + DVC repository, with ``presets``
    (name -> params) under presets/, their dvc.yaml written by presets/generate.py."""
    for item in ("dvc.yaml", ".dvcignore", ".gitignore", "genmodels", "pipelines", "presets/generate.py", "presets/.gitignore"):
        src, dst = ROOT / item, repo / item
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, dst)
    for name, params in presets.items():
        (repo / "presets" / name).mkdir(parents=True)
        (repo / "presets" / name / "params.yaml").write_text(yaml.safe_dump(params))
    sh(repo, sys.executable, "presets/generate.py")
    sh(repo, "git", "init", "-q")
    sh(repo, "dvc", "init", "-q")
    sh(repo, "dvc", "config", "core.analytics", "false")
    return repo


def ran(out: subprocess.CompletedProcess) -> set[str]:
    return {line.split("'")[1] for line in out.stdout.splitlines() if line.startswith("Running stage")}


def test_dvc_reads_the_mnist5k_preset_and_runs_its_check_stage_in_its_folder(tmp_path: Path) -> None:
    repo = copy_project(tmp_path / "repo", {})
    shutil.copytree(ROOT / "presets" / "mnist5k", repo / "presets" / "mnist5k", ignore=shutil.ignore_patterns("dvc.lock", "build", "data", "models"))
    (repo / "params.yaml").write_text(yaml.safe_dump(tiny_params("root", ("gmm",))))
    stages = sh(repo, "dvc", "stage", "list", "presets/mnist5k/dvc.yaml", "--name-only").stdout.split()
    models = yaml.safe_load((ROOT / "presets/mnist5k/params.yaml").read_text())["models"]
    assert {f"presets/mnist5k/dvc.yaml:train@{m}" for m in models} <= set(stages) and len(models) > 1  # the preset's models, not the root's gmm
    assert ran(sh(repo, "dvc", "repro", "presets/mnist5k/dvc.yaml:check")) == {"presets/mnist5k/dvc.yaml:check"}
    resolved = yaml.safe_load((repo / "presets/mnist5k/build/params_resolved.json").read_text())
    assert resolved["data"]["name"] == "mnist5k" and not (repo / "build").exists()
    lock = yaml.safe_load((repo / "presets/mnist5k/dvc.lock").read_text())["stages"]["check"]
    assert [d["path"] for d in lock["deps"]] == ["../../genmodels", "../../pipelines", "params.yaml"] and not (repo / "dvc.lock").exists()


def tree(repo: Path, skip: tuple[str, ...]) -> dict[str, str]:
    """sha256 of every file in the repository but those under ``skip`` (and git's and DVC's own)."""
    out = {}
    for path in sorted(repo.rglob("*")):
        rel = path.relative_to(repo).as_posix()
        if path.is_file() and not rel.startswith((".git/", ".dvc/", *skip)):
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.mark.slow  # about 2-3 minutes on 2 cores: a default run in process, then a preset through dvc repro
def test_a_preset_runs_beside_the_default_pipeline_without_touching_it(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    from genmodels.restoration.names import DEFAULT_REFERENCES
    from pipelines import check, evaluate, evaluator, prepare, reference, report, restore, restore_reference, sample, train

    tiny = tiny_params("tiny-preset", ("independent",), data={"limit": 200})
    repo = copy_project(tmp_path / "repo", {"tiny": tiny})
    (repo / "params.yaml").write_text(yaml.safe_dump(tiny_params("tiny-root", ("gmm",))))
    git_commit(repo, "project with a preset")
    saved = {k: os.environ.pop(k) for k in CLEAN_ENV if k in os.environ}
    try:  # the default pipeline, as `dvc repro` would run it, recorded with `dvc commit`
        for stage in (check, prepare, evaluator):
            stage.run(repo)
        for stage in (train, sample, restore, evaluate):
            stage.run(repo, "gmm")
        for stage in (reference, restore_reference, report):
            stage.run(repo)
    finally:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        os.environ.update(saved)
    sh(repo, "dvc", "commit", "--force", "dvc.yaml")
    git_commit(repo, "default run")
    assert "up to date" in sh(repo, "dvc", "status", "dvc.yaml").stdout
    default = tree(repo, ("presets/", *STORE))

    out = sh(repo, "dvc", "repro", "presets/tiny/dvc.yaml")
    assert "presets/tiny/dvc.yaml:train@independent" in ran(out) and not [s for s in ran(out) if not s.startswith("presets/tiny/")]
    preset = repo / "presets" / "tiny"
    assert json.loads((preset / "data/prepared/card.json").read_text())["sizes"]["train"] + \
        json.loads((preset / "data/prepared/card.json").read_text())["sizes"]["val"] == 200  # fmt: skip
    for rel in ("dvc.lock", "models/independent/model.pt", "samples/independent.parquet", "metrics/independent.json",
                "metrics/ref-holdout.json", "reports/leaderboard.md", "build/params_resolved.json"):  # fmt: skip
        assert (preset / rel).is_file(), rel
    assert "| independent |" in (preset / "reports/leaderboard.md").read_text() and "gmm" not in os.listdir(preset / "metrics")
    assert tree(repo, ("presets/", *STORE)) == default  # the default run's outputs, dvc.lock and params, byte for byte
    assert not any((preset / s).exists() for s in STORE)  # the runs went to the project's store
    assert "up to date" in sh(repo, "dvc", "status", "dvc.yaml").stdout

    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    names = {}
    for experiment in ("tiny-root", "tiny-preset"):  # one MLflow experiment per preset, in the project's store
        runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
        names[experiment] = {r.info.run_name for r in runs if r.data.tags.get("genmodels.report") != "true"}
    # the reference rows are scored (and recorded) like models: the sample references and the classical restorers
    refs = {"ref-holdout", "ref-train-copy", *DEFAULT_REFERENCES}
    assert names == {"tiny-root": {"gmm", *refs}, "tiny-preset": {"independent", *refs}}
    (run,) = client.search_runs([client.get_experiment_by_name("tiny-preset").experiment_id], filter_string="attributes.run_name = 'independent'")
    assert run.data.params["data.limit"] == "200" and run.info.artifact_uri.startswith((repo / "mlartifacts").resolve().as_uri())

    git_commit(repo, "preset run")
    assert ran(sh(repo, "dvc", "repro")) == set()  # back to the default: nothing to rerun
    assert ran(sh(repo, "dvc", "repro", "presets/tiny/dvc.yaml")) == set()  # and to the preset again
