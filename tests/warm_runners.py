"""The warm runner (pipelines/warm.py) for tests that run commands as a user does: a private,
short runner folder, and the runners in it stopped at the end."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from pathlib import Path


class WarmRunners:
    """``env()`` turns the runner on with this object's folder; ``stop()`` ends its runners."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="gw", dir="/tmp"))  # short: a socket path has at most 107 bytes

    def env(self) -> dict[str, str]:
        return {"GENMODELS_WARM": "1", "GENMODELS_WARM_DIR": str(self.folder)}

    def pids(self) -> list[int]:
        """The runners that served from this folder (their logs' first line: ``warm runner <pid>: serving ...``)."""
        pids = []
        for log in self.folder.glob("*.log"):
            for line in log.read_text(errors="replace").splitlines():
                if line.startswith("warm runner ") and ": serving" in line:
                    pids.append(int(line.split()[2].rstrip(":")))
        return pids

    def stop(self) -> None:
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        shutil.rmtree(self.folder, ignore_errors=True)
