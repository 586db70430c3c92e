"""Benchmark: cold ``dvc repro`` (after installation) and the no-op rerun, on the default params.

Copies the project (code, dvc.yaml, params.yaml) into a temporary git repo, runs
``dvc repro`` twice and prints the wall times; per-stage times come from DVC's log.
Run: ``make bench`` or ``.venv/bin/python benchmarks/bench_repro.py [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sh(cwd: Path, *cmd: str) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    env["PYTHONPATH"] = str(cwd)  # run the copied code, not the editable install's working tree
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}")
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--keep", type=Path, help="run in this folder and keep it")
    ap.add_argument("--params", type=Path, default=ROOT / "params.yaml", help="params file to run (default: the project's)")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="genmodels-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    for item in ("dvc.yaml", ".dvcignore", "genmodels", "pipelines"):
        src = ROOT / item
        (shutil.copytree(src, work / item, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True) if src.is_dir() else shutil.copy2(src, work / item))
    shutil.copy2(args.params, work / "params.yaml")
    (work / ".gitignore").write_text("mlflow.db\nmlartifacts/\n.ray_runs/\n/build/\n")
    for cmd in (("git", "init", "-q"), ("dvc", "init", "-q", "-f"), ("dvc", "config", "core.analytics", "false"), ("git", "add", "-A"),
                ("git", "-c", "user.email=b@b", "-c", "user.name=b", "commit", "-qm", "bench")):  # fmt: skip
        sh(work, *cmd)
    cold = sh(work, "dvc", "repro")
    noop = sh(work, "dvc", "repro")
    print(f"| cold `dvc repro` ({args.params.name}) | {cold:.1f} s |")
    print(f"| no-op `dvc repro` | {noop:.2f} s |")
    print((work / "reports/leaderboard.md").read_text())
    card = json.loads((work / "data/prepared/card.json").read_text())
    if card["name"] == "toy2d":
        from genmodels.data.toy2d import toy2d_entropy

        h = toy2d_entropy(card["extra"])
        print(f"true entropy of {card['extra']['kind']}: {h.value:.4f} ± {h.stderr:.4f} nats "
              f"= {h.value / (2 * math.log(2)):.4f} bits/dim (a perfect model's nll_bits_per_dim)")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
