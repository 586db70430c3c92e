"""Commands in a temporary git + DVC copy of the project, as a user runs them from its folder:
with the warm runner on (the default outside the test suite), its runners in a private folder
of the test session, stopped when the session ends."""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
from pathlib import Path

from tests.warm_runners import WarmRunners

RUNNERS = WarmRunners()
atexit.register(RUNNERS.stop)

# variables of the surrounding session that would send the copy's runs elsewhere
CLEAN_ENV = ("MLFLOW_TRACKING_URI", "RAY_ADDRESS", "GENMODELS_ROOT", "DVC_ROOT", "DVC_EXP_NAME", "DVC_EXP_BASELINE_REV")


def sh(cwd: Path, *cmd: str, check: bool = True, timeout: float = 600, threads: int | None = None) -> subprocess.CompletedProcess:
    """Run ``cmd`` in ``cwd`` without :data:`CLEAN_ENV`, this interpreter's ``genmodels`` and ``dvc``
    first on PATH (``threads``: OMP_NUM_THREADS); with ``check``, a failure raises with its output's tail."""
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    env.update(RUNNERS.env())
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout[-5000:]}\n{out.stderr[-5000:]}")
    return out


def git_commit(repo: Path, message: str) -> None:
    """Commit everything in ``repo`` under a throwaway identity."""
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", message)
