"""``genmodels compare`` on a temporary git project: committed metrics against modified ones, exit
codes, output lines, JSON, the evaluator card (from a folder and from the DVC cache), bad input."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app

GAN = {"fid": 0.352, "fid_ci_low": 0.30, "fid_ci_high": 0.41, "ct_stat": 0.5, "ppl": None, "train_seconds": 37.0,
       "notes": {"ppl": "no decoder"}}  # fmt: skip
RBM = {"fid": 18.9, "fid_ci_low": 15.3, "fid_ci_high": 21.9, "nll_bits_per_dim": 2.0, "nll_bits_per_dim_stderr": 0.016}
CARD = {"extractor": "classifier", "test_accuracy": 0.983, "test_size": 359}


def git(root: Path, *args: str) -> str:
    cmd = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false", *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def write(root: Path, models: dict[str, dict], card: dict | None = None) -> None:
    (root / "metrics").mkdir(parents=True, exist_ok=True)
    for name, metrics in models.items():
        (root / "metrics" / f"{name}.json").write_text(json.dumps(metrics, indent=2))
    if card is not None:
        (root / "models" / "evaluator").mkdir(parents=True, exist_ok=True)
        (root / "models" / "evaluator" / "card.json").write_text(json.dumps(card))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git project with metrics/gan.json and metrics/rbm.json committed; the working tree unchanged."""
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q")
    write(root, {"gan": GAN, "rbm": RBM})
    git(root, "add", "metrics")
    git(root, "commit", "-q", "-m", "metrics")
    monkeypatch.setenv("GENMODELS_ROOT", str(root))
    return root


def compare(*args: str):  # noqa: ANN201
    return CliRunner().invoke(app, ["compare", *args], catch_exceptions=False)


def line(output: str, model: str, metric: str) -> str:
    found = [ln for ln in output.splitlines() if ln.split()[:2] == [model, metric]]
    assert len(found) == 1, output
    return found[0]


def test_an_unchanged_working_tree_is_identical_and_exits_0(project: Path) -> None:
    out = compare()
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines()[0] == f"run {project} against baseline git HEAD"
    assert line(out.stdout, "gan", "fid").split()[2] == "identical"
    assert out.stdout.splitlines()[-1].startswith("summary: 5 identical, 0 within, 0 outside, 0 no interval")


def test_values_within_the_committed_intervals_exit_0_and_one_outside_exits_1(project: Path) -> None:
    write(project, {"gan": {**GAN, "fid": 0.293 + 0.02, "train_seconds": 40.0}, "rbm": {**RBM, "fid": 17.6, "nll_bits_per_dim": 2.01}})
    out = compare()
    assert out.exit_code == 0, out.output
    assert line(out.stdout, "gan", "fid").split()[2] == "within"
    assert "interval [1.968, 2.032] by 2 x nll_bits_per_dim_stderr" in line(out.stdout, "rbm", "nll_bits_per_dim")
    assert "timings, not compared:" in out.stdout and "40 (baseline 37)" in out.stdout

    write(project, {"gan": {**GAN, "fid": 0.293, "ct_stat": 0.6}})
    out = compare()
    assert out.exit_code == 1, out.output
    assert line(out.stdout, "gan", "fid").split()[2:] == ["outside", "0.293", "(baseline", "0.352,", "interval", "[0.3,", "0.41]", "by", "ci)"]
    assert line(out.stdout, "gan", "ct_stat").split()[2:4] == ["no", "interval"]
    assert "summary: 1 identical, 2 within, 1 outside, 1 no interval" in out.stdout


def test_json_output_for_scripts(project: Path) -> None:
    write(project, {"gan": {**GAN, "fid": 0.2}})
    out = compare("--json", "--model", "gan")
    assert out.exit_code == 1
    doc = json.loads(out.stdout)
    assert doc["baseline"] == "git HEAD" and doc["outside"] == 1 and doc["counts"]["outside"] == 1
    assert {r["model"] for r in doc["rows"]} == {"gan"}
    assert doc["timings"] == [{"model": "gan", "metric": "train_seconds", "run": 37.0, "baseline": 37.0}]


def test_rev_baseline_dir_and_run_dir(project: Path, tmp_path: Path) -> None:
    write(project, {"gan": {**GAN, "fid": 0.2}})
    git(project, "commit", "-q", "-am", "worse gan")
    assert compare().exit_code == 0  # the working tree equals HEAD
    out = compare("--rev", "HEAD~1")
    assert out.exit_code == 1 and "against baseline git HEAD~1" in out.stdout
    flat = tmp_path / "flat"  # a folder of <model>.json files
    flat.mkdir()
    (flat / "gan.json").write_text(json.dumps(GAN))
    out = compare("--baseline", str(flat))
    assert out.exit_code == 1 and "rbm: only in run (not compared)" in out.stdout
    assert compare("--run", str(flat), "--baseline", str(flat)).exit_code == 0


def test_the_evaluator_card_from_folders(project: Path, tmp_path: Path) -> None:
    base, run = tmp_path / "base", tmp_path / "run"
    write(base, {"gan": GAN}, CARD)
    write(run, {"gan": GAN}, {**CARD, "test_accuracy": 0.975})
    out = compare("--run", str(run), "--baseline", str(base))
    assert out.exit_code == 0 and "by wilson" in line(out.stdout, "evaluator", "test_accuracy")
    assert line(out.stdout, "evaluator", "test_accuracy").split()[2] == "within"
    write(run, {}, {**CARD, "test_accuracy": 0.9})
    assert compare("--run", str(run), "--baseline", str(base)).exit_code == 1
    out = compare("--run", str(run), "--baseline", str(base), "--model", "gan")
    assert out.exit_code == 0 and "test_accuracy" not in out.stdout


def test_the_committed_card_from_the_dvc_cache_by_the_lock(project: Path) -> None:
    """models/evaluator is a DVC output: the card at a revision is the one its dvc.lock's hash names."""
    card = json.dumps(CARD).encode()
    card_md5 = hashlib.md5(card).hexdigest()
    listing = json.dumps([{"md5": card_md5, "relpath": "card.json"}]).encode()
    dir_md5 = hashlib.md5(listing).hexdigest() + ".dir"
    cache = project / ".dvc" / "cache" / "files" / "md5"
    for digest, data in ((card_md5, card), (dir_md5, listing)):
        (cache / digest[:2]).mkdir(parents=True, exist_ok=True)
        (cache / digest[:2] / digest[2:]).write_bytes(data)
    (project / "dvc.lock").write_text(f"schema: '2.0'\nstages:\n  evaluator:\n    outs:\n    - path: models/evaluator\n      md5: {dir_md5}\n")
    git(project, "add", "dvc.lock")
    git(project, "commit", "-q", "-m", "lock")
    write(project, {}, {**CARD, "test_accuracy": 0.95})
    out = compare()
    assert out.exit_code == 1 and line(out.stdout, "evaluator", "test_accuracy").split()[2] == "outside"
    (cache / dir_md5[:2] / dir_md5[2:]).unlink()
    out = compare()
    assert out.exit_code == 0 and "evaluator card: only in run (not compared)" in out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rev", "nope"], "error: nope: no such git revision in"),
        (["--baseline", "missing-dir"], "error: missing-dir: no such folder"),
        (["--run", "."], "no metrics files"),
        (["--model", "vae"], "error: git HEAD: no metrics for vae (has gan, rbm)"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    out = compare(*args)
    assert out.exit_code == 2 and out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1 and message in out.stderr, out.stderr


def test_not_a_git_repository_asks_for_a_baseline_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "plain"
    write(root, {"gan": GAN})
    monkeypatch.setenv("GENMODELS_ROOT", str(root))
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    out = compare()
    assert out.exit_code == 2 and out.stderr.strip() == f"error: {root}: not a git repository (give the baseline as --baseline DIR)"
    assert compare("--baseline", str(root)).exit_code == 0


def test_broken_json_and_both_baselines(project: Path) -> None:
    (project / "metrics" / "gan.json").write_text("{not json")
    out = compare()
    assert out.exit_code == 2 and "gan.json: not valid JSON" in out.stderr
    out = compare("--baseline", str(project), "--rev", "HEAD")
    assert out.exit_code == 2 and "give either --baseline DIR or --rev REV" in out.output


def test_a_reader_that_stops_early_is_no_error(project: Path) -> None:
    """``genmodels compare | head -1``: the closed pipe ends the output quietly, with the comparison's exit code."""
    env = {**os.environ, "GENMODELS_ROOT": str(project)}
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "compare"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # before the interpreter has started: its first write meets a closed pipe
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and err == b"", err
