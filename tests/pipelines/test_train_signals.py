"""``genmodels train`` that goes wrong stops cleanly: real processes, real signals, a real
SQLite MLflow store, a tiny prepared project.

* a learning rate that really diverges: exit 1, one line naming the model, epoch, step and
  value, the MLflow run FAILED with that line as its reason, no ``models/<model>/``;
* SIGINT, then SIGTERM on the resumed run: exit 130 / 143, one line each, no partial output,
  the runs KILLED; then SIGKILL; a last run resumes from the newest complete checkpoint and
  ends with weights equal (bit for bit) to an uninterrupted run's.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # four CLI processes (~15 s each of torch/MLflow start-up on 2 cores)
EPOCHS = 40  # long enough to be interrupted twice after a checkpoint, ~3 s of training
TINY = {
    "experiment": "signals",
    "seed": 0,
    "data": {"name": "digits", "limit": 400},
    "scaling": {"backend": "local", "checkpoint_seconds": 0},  # a checkpoint per epoch: interruptions land between them
    "models": {"vae": "vae", "bad": "vae"},
    "vae": {"model": {"hidden": [32], "latent_dim": 4, "iw_samples": 4}, "fit": {"epochs": EPOCHS, "batch_size": 32}},
    # lr 1e8: the first step blows the weights up and the second step's gradient norm is inf
    "bad": {"model": {"hidden": [32], "latent_dim": 4, "prior": "standard"}, "fit": {"epochs": 2, "batch_size": 32, "lr": 1e8}},
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipelines import prepare

    root = tmp_path_factory.mktemp("signals")
    (root / "params.yaml").write_text(yaml.safe_dump(TINY))
    prepare.run(root)
    return root


def env(root: Path) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS", "GENMODELS_DEBUG")}
    return out | {"GENMODELS_ROOT": str(root), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def start(root: Path, model: str, log: Path) -> subprocess.Popen:
    """``genmodels train <model>`` in its own process, stderr to ``log``."""
    cli = Path(sys.executable).parent / "genmodels"
    with open(log, "wb") as err:
        return subprocess.Popen([str(cli), "train", model], cwd=root, env=env(root), stdout=subprocess.DEVNULL, stderr=err)


def wait_for(what: Callable[[], bool], proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert proc.poll() is None, f"the run ended (exit {proc.returncode}) before the condition held"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def checkpoints(root: Path) -> list[int]:
    """Epochs of the complete checkpoints of every run under .ray_runs/."""
    return sorted(int(p.parent.name.split("_")[-1]) for p in (root / ".ray_runs").glob("*/checkpoint_*/trainer.pt"))


def error_line(stderr: str) -> str:
    """The one ``error:`` line (asserting there is exactly one and no traceback)."""
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    assert stderr.rstrip().splitlines()[-1] == errors[0]  # the last thing printed
    return errors[0].removeprefix("error: ")


def mlflow_runs(root: Path, name: str) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    exp = client.get_experiment_by_name(TINY["experiment"])
    runs = client.search_runs([exp.experiment_id], filter_string=f"attributes.run_name = '{name}'")
    return sorted(runs, key=lambda r: r.info.start_time)


def no_partial_output(root: Path, model: str) -> None:
    assert not (root / "models" / model).exists()
    assert not [p.name for p in (root / "models").glob(".*")] if (root / "models").exists() else True
    assert not list((root / ".ray_runs").glob("*/.checkpoint_*"))  # no half-written checkpoint


def test_a_diverging_run_stops_with_one_line_and_a_failed_mlflow_run(project: Path, tmp_path: Path) -> None:
    proc = start(project, "bad", tmp_path / "err")
    assert proc.wait(timeout=300) == 1
    line = error_line((tmp_path / "err").read_text())
    assert re.fullmatch(
        r"bad diverged at epoch 0, step 2 of \d+: the gradient norm of loss 'model' is inf \(loss \S+\); lower fit.lr or set fit.grad_clip", line
    ), line
    no_partial_output(project, "bad")
    (run,) = mlflow_runs(project, "bad")
    assert run.info.status == "FAILED"
    assert run.data.tags["mlflow.note.content"] == line and run.data.tags["error"] == f"TrainingDiverged: {line}"


def interrupt(root: Path, signum: int, log: Path) -> tuple[int, str, int]:
    """Start training, send ``signum`` once a new checkpoint exists; (exit code, the error line, last epoch seen)."""
    before = max(checkpoints(root), default=-1)
    proc = start(root, "vae", log)
    wait_for(lambda: max(checkpoints(root), default=-1) > before, proc)
    proc.send_signal(signum)
    code = proc.wait(timeout=120)
    return code, error_line(log.read_text()), max(checkpoints(root))


def test_interrupted_runs_leave_nothing_partial_and_resume_to_the_uninterrupted_weights(project: Path, tmp_path: Path) -> None:
    from genmodels.data import read_samples
    from genmodels.training import checkpoint as ckpt
    from genmodels.training.local import train_local
    from pipelines import paths
    from pipelines.common import params
    from pipelines.jobs import prepared_job, run_name

    run_dir = Path(".ray_runs") / run_name(project, prepared_job(project, params(project), "vae"))
    code, line, last = interrupt(project, signal.SIGINT, tmp_path / "first")
    assert code == 130 and last < EPOCHS - 1
    assert (
        line
        == f"train vae: interrupted by SIGINT, last checkpoint after epoch {last + 1} of {EPOCHS} ({run_dir / f'checkpoint_{last:06d}'}); run the same command again to resume"
    )
    no_partial_output(project, "vae")

    code, line, last2 = interrupt(project, signal.SIGTERM, tmp_path / "second")
    assert code == 143 and last < last2 < EPOCHS - 1, (last, last2)
    assert line.startswith("train vae: interrupted by SIGTERM, last checkpoint after epoch") and "resume" in line
    assert f"resuming from {project / run_dir / f'checkpoint_{last:06d}'}" in (tmp_path / "second").read_text()
    no_partial_output(project, "vae")

    # SIGKILL: nothing runs on the way out, yet the newest complete checkpoint is still there to resume from
    proc = start(project, "vae", tmp_path / "killed")
    wait_for(lambda: max(checkpoints(project)) > last2, proc)
    proc.kill()
    assert proc.wait(timeout=60) == -signal.SIGKILL
    proc_killed = proc.pid
    last3 = max(checkpoints(project))
    assert last2 < last3 < EPOCHS - 1 and not (project / "models/vae").exists()

    proc = start(project, "vae", tmp_path / "third")
    assert proc.wait(timeout=300) == 0, (tmp_path / "third").read_text()
    assert f"resuming from {project / run_dir / f'checkpoint_{last3:06d}'}" in (tmp_path / "third").read_text()
    assert not list((project / run_dir).glob(".*"))  # a checkpoint the kill cut short was cleared on resume
    runs = mlflow_runs(project, "vae")  # the SIGKILLed process could not close its run: the next run did
    assert [r.info.status for r in runs] == ["KILLED", "KILLED", "KILLED", "FINISHED"]
    assert runs[2].data.tags["mlflow.note.content"].startswith(f"the process (pid {proc_killed} on ")
    assert runs[0].data.tags["mlflow.note.content"].startswith("train vae: interrupted by SIGINT")
    assert runs[1].data.tags["mlflow.note.content"] == line

    resumed = torch.load(project / "models/vae" / ckpt.MODEL_FILE, weights_only=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the CLI ran (OMP_NUM_THREADS=1): the same reduction order
    try:
        train = read_samples(project / paths.TRAIN)
        final = train_local(prepared_job(project, params(project), "vae"), train.x, train.y, tmp_path / "uninterrupted")
    finally:
        torch.set_num_threads(threads)
    reference = torch.load(final / ckpt.MODEL_FILE, weights_only=True)
    assert resumed.keys() == reference.keys()
    assert all(torch.equal(resumed[k], reference[k]) for k in reference)
