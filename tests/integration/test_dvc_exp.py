"""Experiments the DVC way: two queued experiments run at once (``dvc queue start -j 2``) in
DVC's temporary workspaces and record their runs in the project's own MLflow store, next to
the committed baseline that ``dvc exp show`` and ``dvc metrics diff`` compare them with.

A tiny project (digits, 300 rows, one small VAE) in a temporary git repository. The baseline
is computed in this process (the stage functions ``dvc repro`` would call, imports paid once)
and recorded with ``dvc commit``; ``dvc.lock``, ``metrics/*.json`` and the rest of what the
repository's own ``.gitignore`` lets through are committed, as docs/experiments.md asks of the default
run. Then ``dvc exp run --queue -S vae.fit.epochs=1`` and ``=3``, ``dvc queue start -j 2``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
import yaml

from tests.integration.shell import CLEAN_ENV, git_commit, sh
from tests.tiny_pipeline import tiny_params

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # minutes: two queued experiments through dvc queue
ROOT = Path(__file__).parents[2]
EXPERIMENT = "tiny-exp"
PARAMS = tiny_params(EXPERIMENT, evaluator={"epochs": 2}, evaluate={"bootstrap": 10, "prdc_repeats": 1})
EXPS = {"ep1": 1, "ep3": 3}  # experiment name -> vae.fit.epochs (the baseline trains 2)


def baseline(repo: Path) -> None:
    """Every stage of dvc.yaml, in this process, in dvc.yaml's order."""
    from pipelines import check, evaluate, evaluator, prepare, reference, report, restore, restore_reference, sample, train

    saved = {k: os.environ.pop(k) for k in CLEAN_ENV if k in os.environ}
    try:
        check.run(repo)
        prepare.run(repo)
        evaluator.run(repo)
        train.run(repo, "vae")
        sample.run(repo, "vae")
        restore.run(repo, "vae")
        evaluate.run(repo, "vae")
        reference.run(repo)
        restore_reference.run(repo)
        report.run(repo)
    finally:
        os.environ.pop("MLFLOW_TRACKING_URI", None)  # MLflow exports the URI it was given
        os.environ.update(saved)


def queue_states(repo: Path) -> dict[str, str]:
    """``dvc queue status``: experiment name -> Queued | Running | Success | Failed."""
    lines = sh(repo, "dvc", "queue", "status").stdout.splitlines()[1:]
    return {t[1]: t[-1] for t in (line.split() for line in lines if not line.startswith("Worker")) if len(t) > 2}


def wait_for_queue(repo: Path, names: list[str], timeout: float = 1500) -> dict[str, str]:
    """Wait until every experiment is done: its git ref appears (cheap to poll), or the queue says it failed."""
    deadline, asked = time.monotonic() + timeout, time.monotonic()
    while True:
        refs = sh(repo, "git", "for-each-ref", "refs/exps", "--format=%(refname:lstrip=-1)").stdout.split()
        if set(names) <= set(refs):  # the task itself ends a moment after its ref is collected
            states = queue_states(repo)
            if all(states.get(n) in ("Success", "Failed") for n in names) or time.monotonic() > deadline:
                return states
        if time.monotonic() - asked > 30:  # a dvc process costs a second or more of CPU: ask now and then
            asked = time.monotonic()
            states = queue_states(repo)
            if any(states.get(n) == "Failed" for n in names):
                return states
        if time.monotonic() > deadline:
            raise AssertionError(f"the queue did not finish in {timeout} s: {queue_states(repo)}")
        time.sleep(2)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict:
    repo = tmp_path_factory.mktemp("exp-project")
    for item in ("dvc.yaml", ".dvcignore", ".gitignore", "genmodels", "pipelines"):  # the repository's own .gitignore
        src = ROOT / item
        if src.is_dir():
            shutil.copytree(src, repo / item, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, repo / item)
    (repo / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    sh(repo, "git", "init", "-q")
    sh(repo, "dvc", "init", "-q")
    sh(repo, "dvc", "config", "core.analytics", "false")
    git_commit(repo, "tiny project")
    started = time.monotonic()
    baseline(repo)
    sh(repo, "dvc", "commit", "--force")  # dvc.lock from what the stages just wrote
    git_commit(repo, "baseline: dvc.lock, metrics")
    timings = {"baseline_s": time.monotonic() - started}
    client = client_of(repo)
    before = {"description": client.get_experiment_by_name(EXPERIMENT).tags["mlflow.note.content"],
              "versions": [(v.version, v.run_id) for v in client.search_model_versions(f"name = '{EXPERIMENT}-vae'")]}  # fmt: skip
    started = time.monotonic()
    for name, epochs in EXPS.items():
        sh(repo, "dvc", "exp", "run", "--queue", "-S", f"vae.fit.epochs={epochs}", "--name", name)
    sh(repo, "dvc", "queue", "start", "-j", "2")
    try:
        states = wait_for_queue(repo, list(EXPS))
    finally:
        sh(repo, "dvc", "queue", "stop", check=False)  # the idle workers go too
    timings["experiments_s"] = time.monotonic() - started
    print(f"\ntest_dvc_exp timings: {timings}")
    return {"repo": repo, "states": states, "before": before, "logs": {n: sh(repo, "dvc", "queue", "logs", n).stdout for n in EXPS}}


def client_of(repo: Path):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")


def test_the_baseline_is_committed_and_up_to_date(project: dict) -> None:
    repo = project["repo"]
    tracked = set(sh(repo, "git", "ls-files").stdout.split())  # `git add -A` under the repository's own .gitignore
    assert {"dvc.lock", "metrics/vae.json", "metrics/ref-holdout.json", "metrics/ref-train-copy.json", "build/params_resolved.json"} <= tracked
    assert {"resamples/vae.npz", "reports/leaderboard.md"} <= tracked  # the other cache: false outputs, so no stage is stale
    cached = [f for f in tracked if f.startswith(("mlartifacts/", "models/", "data/", "samples/", "figures/")) and not f.endswith("/.gitignore")]
    assert "mlflow.db" not in tracked and cached == []  # the store and the DVC-cached outputs stay out of git
    assert "up to date" in sh(repo, "dvc", "status").stdout


def test_both_experiments_ran_from_the_baseline_and_reran_only_what_changed(project: dict) -> None:
    assert {n: project["states"].get(n) for n in EXPS} == {n: "Success" for n in EXPS}, project["states"]
    for name, log in project["logs"].items():
        ran = {line.split("'")[1] for line in log.splitlines() if line.startswith("Running stage")}
        assert ran == {"check", "train@vae", "sample@vae", "evaluate@vae", "restore@vae", "report"}, (name, log[-3000:])
        assert "Stage 'prepare' didn't change, skipping" in log and "Stage 'reference' didn't change, skipping" in log


def test_both_experiments_runs_are_in_the_projects_store(project: dict) -> None:
    repo = project["repo"]
    client = client_of(repo)
    exp = client.get_experiment_by_name(EXPERIMENT)
    vae = client.search_runs([exp.experiment_id], filter_string="attributes.run_name = 'vae'")
    by_exp = {r.data.tags.get("dvc.exp_name"): r for r in vae}
    assert sorted(by_exp, key=str) == [None, "ep1", "ep3"], [r.data.tags for r in vae]  # the baseline's run and one per experiment
    assert {n: by_exp[n].data.params["vae.fit.epochs"] for n in (None, *EXPS)} == {None: "2", "ep1": "1", "ep3": "3"}
    head = sh(repo, "git", "rev-parse", "HEAD").stdout.strip()
    for name, epochs in EXPS.items():
        run = by_exp[name]
        assert run.info.status == "FINISHED" and run.data.tags["dvc.exp_baseline_rev"] == head
        assert [m.step for m in client.get_metric_history(run.info.run_id, "loss_model")] == list(range(epochs))
        assert {"fid", "kid", "precision", "nll_bits_per_dim"} <= set(run.data.metrics)  # evaluate@vae reopened the same run
        # artifacts in the project's mlartifacts/, not in the deleted temporary workspace
        assert run.info.artifact_uri.startswith((repo / "mlartifacts").resolve().as_uri())
        local = Path(run.info.artifact_uri.removeprefix("file://"))
        assert (local / "checkpoint" / "model.pt").is_file() and (local / "metrics" / "vae.json").is_file()
    reports = client.search_runs([exp.experiment_id], filter_string="tags.`genmodels.report` = 'true'")
    assert sorted(str(r.data.tags.get("dvc.exp_name")) for r in reports) == ["None", "ep1", "ep3"]
    assert not list((repo / ".dvc" / "tmp" / "exps").rglob("mlflow.db"))


def test_the_two_experiments_ran_at_the_same_time(project: dict) -> None:
    """Each experiment's span, from its training run's start to its report run's end, overlaps the other's."""
    client = client_of(project["repo"])
    exp = client.get_experiment_by_name(EXPERIMENT)
    spans = {}
    for name in EXPS:
        runs = client.search_runs([exp.experiment_id], filter_string=f"tags.`dvc.exp_name` = '{name}'")
        spans[name] = (min(r.info.start_time for r in runs), max(r.info.end_time for r in runs))
    (a0, a1), (b0, b1) = spans.values()
    assert a0 < b1 and b0 < a1, spans


def test_the_experiments_leave_the_description_and_the_registry_to_the_project(project: dict) -> None:
    client = client_of(project["repo"])
    before = project["before"]
    assert len(before["versions"]) == 1  # the baseline's report registered its VAE
    assert [(v.version, v.run_id) for v in client.search_model_versions(f"name = '{EXPERIMENT}-vae'")] == before["versions"]
    assert client.get_experiment_by_name(EXPERIMENT).tags["mlflow.note.content"] == before["description"]


def test_dvc_exp_show_lists_both_with_their_params_and_metrics(project: dict) -> None:
    repo = project["repo"]
    client = client_of(repo)
    shown = json.loads(sh(repo, "dvc", "exp", "show", "--json").stdout)
    head = sh(repo, "git", "rev-parse", "HEAD").stdout.strip()
    (base,) = [b for b in shown if b["rev"] == head]
    committed = json.loads((repo / "metrics/vae.json").read_text())
    assert base["data"]["metrics"]["metrics/vae.json"]["data"]["fid"] == committed["fid"]
    exps = {r["name"]: r["data"] for e in base["experiments"] for r in e["revs"]}
    assert set(EXPS) <= set(exps), list(exps)
    for name, epochs in EXPS.items():
        data = exps[name]
        assert data["params"]["params.yaml"]["data"]["vae"]["fit"]["epochs"] == epochs
        # the params every stage read (the committed build/params_resolved.json), defaults included
        resolved = data["params"]["build/params_resolved.json"]["data"]
        assert resolved["vae"]["fit"]["epochs"] == epochs and "lr" in resolved["vae"]["fit"]
        fid = data["metrics"]["metrics/vae.json"]["data"]["fid"]
        (run,) = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id],
                                    filter_string=f"tags.`dvc.exp_name` = '{name}' and attributes.run_name = 'vae'")  # fmt: skip
        assert run.data.metrics["fid"] == pytest.approx(fid)  # the same figure in DVC and in MLflow
        assert fid != committed["fid"]


def test_dvc_metrics_diff_compares_an_experiment_with_the_committed_baseline(project: dict) -> None:
    repo = project["repo"]
    shown = json.loads(sh(repo, "dvc", "exp", "show", "--json").stdout)
    rev = next(r["rev"] for b in shown for e in b.get("experiments") or [] for r in e["revs"] if r["name"] == "ep3")
    diff = json.loads(sh(repo, "dvc", "metrics", "diff", "HEAD", rev, "--json").stdout)
    committed = json.loads((repo / "metrics/vae.json").read_text())
    assert diff["metrics/vae.json"]["fid"]["old"] == committed["fid"] and diff["metrics/vae.json"]["fid"]["new"] != committed["fid"]
    assert not diff.get("metrics/ref-holdout.json")  # the reference rows did not change
