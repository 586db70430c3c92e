"""Benchmark: cold ``dvc repro`` (after installation) and the no-op rerun, on the default params.

Copies the project (code, dvc.yaml, params.yaml) into a temporary git repo, runs
``dvc repro`` twice and prints the wall times (and the CPU seconds of everything the cold
run waited for: the machine may be shared); per-stage wall times come from the moments DVC
announces each stage (``Running stage '...'``) in its streamed output, so a stage's time
includes DVC's own hashing and lock writing after it. For each ``train@<model>`` the stage's
seconds beyond the training and validation seconds it reports (``train_seconds`` and the
``val_seconds`` of ``models/<model>/history.json``) are its fixed overhead in the real pipeline
(checkpoints, export, MLflow, process start and imports). Rows (``cold_repro`` target <= 180 s, ``noop_repro``
target <= 5 s, and one per stage) go to ``benchmarks/results.csv`` when the default params
run (not with ``--params``).
Run: ``make bench`` or ``.venv/bin/python benchmarks/bench_repro.py [--keep DIR] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNNING = re.compile(r"Running stage '([^']+)'")


# the stages run in forks of the warm runner (pipelines/warm.py), which is no child of this script
CPU_NOTE = "; the warm runner's forks, where the stages run, not included"
THREADS: str | None = None  # --threads: OMP_NUM_THREADS of every stage (None: the environment's)


def environment(cwd: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS")}
    if THREADS is not None:
        env["OMP_NUM_THREADS"] = THREADS
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    env["PYTHONPATH"] = str(cwd)  # run the copied code, not the editable install's working tree
    return env


def sh(cwd: Path, *cmd: str) -> float:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, env=environment(cwd), capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}")
    return dt


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def repro(cwd: Path) -> tuple[float, float, dict[str, float]]:
    """``dvc repro``: its wall and CPU seconds and the wall seconds of each stage it ran, in order."""
    env = environment(cwd) | {"PYTHONUNBUFFERED": "1"}
    c0, t0 = children_cpu(), time.perf_counter()
    proc = subprocess.Popen(["dvc", "repro"], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    starts, lines = [], []
    for line in proc.stdout:
        lines.append(line)
        m = RUNNING.search(line)
        if m:
            starts.append((m.group(1), time.perf_counter()))
    proc.wait()
    wall, cpu = time.perf_counter() - t0, children_cpu() - c0
    if proc.returncode != 0:
        sys.exit("dvc repro failed:\n" + "".join(lines[-60:]))
    ends = [t for _, t in starts[1:]] + [t0 + wall]
    return wall, cpu, {name: end - t for (name, t), end in zip(starts, ends)}


def make_project(work: Path, params: Path) -> Path:
    """A fresh git + DVC project in ``work``: the code, ``dvc.yaml`` and ``params`` as ``params.yaml``."""
    work.mkdir(parents=True, exist_ok=True)
    for item in ("dvc.yaml", ".dvcignore", "genmodels", "pipelines"):
        src = ROOT / item
        (shutil.copytree(src, work / item, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True) if src.is_dir() else shutil.copy2(src, work / item))
    shutil.copy2(params, work / "params.yaml")
    (work / ".gitignore").write_text("mlflow.db\nmlartifacts/\n.ray_runs/\n/build/\n")
    for cmd in (("git", "init", "-q"), ("dvc", "init", "-q", "-f"), ("dvc", "config", "core.analytics", "false"), ("git", "add", "-A"),
                ("git", "-c", "user.email=b@b", "-c", "user.name=b", "commit", "-qm", "bench")):  # fmt: skip
        sh(work, *cmd)
    return work


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--keep", type=Path, help="run in this folder and keep it")
    ap.add_argument("--params", type=Path, default=ROOT / "params.yaml", help="params file to run (default: the project's)")
    ap.add_argument("--threads", type=int, help="OMP_NUM_THREADS of every stage; 1 on a shared, oversubscribed machine, where torch's default threads spin")
    args = ap.parse_args()
    global THREADS
    THREADS = None if args.threads is None else str(args.threads)
    threads = os.environ.get("OMP_NUM_THREADS", "default") if THREADS is None else THREADS
    work = make_project(args.keep or Path(tempfile.mkdtemp(prefix="genmodels-bench-")), args.params)
    cold, cold_cpu, stages = repro(work)
    noop = sh(work, "dvc", "repro")
    print(f"| cold `dvc repro` ({args.params.name}, OMP_NUM_THREADS {threads}) | {cold:.1f} s ({cold_cpu:.0f} CPU s; load average {os.getloadavg()[0]:.2f}) |")
    print(f"| no-op `dvc repro` | {noop:.2f} s |")
    print("\n| stage | seconds | share | training (s) | validation (s) | beyond both (s) |\n|---|---:|---:|---:|---:|---:|")
    train_overhead = {}
    for name, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
        extra = "| | | |"
        if name.startswith("train@"):
            history = json.loads((work / "models" / name.split("@", 1)[1] / "history.json").read_text())
            trained, validated = history[-1]["train_seconds"], sum(r.get("val_seconds", 0.0) for r in history)
            train_overhead[name] = seconds - trained - validated
            extra = f"| {trained:.1f} | {validated:.1f} | {train_overhead[name]:.1f} |"
        print(f"| {name} | {seconds:.1f} | {100 * seconds / cold:.1f} % {extra}")
    print()
    if args.params.resolve() == (ROOT / "params.yaml").resolve():
        from results import row, write_rows

        restoring = sum(seconds for name, seconds in stages.items() if name.startswith("restore"))

        rows = [
            row("cold_repro", f"dvc repro, default params (wall, OMP_NUM_THREADS {threads})", cold, "s", "<= 180", cold <= 180),
            row("cold_repro", f"dvc repro, default params (CPU of the processes it waited for{CPU_NOTE}, OMP_NUM_THREADS {threads})", cold_cpu, "CPU s"),
            row("cold_repro", "load average at the end", os.getloadavg()[0], ""),
            row("noop_repro", "dvc repro, nothing changed (wall)", noop, "s", "<= 2", noop <= 2),
            *(row("cold_repro", f"stage {name}", seconds, "s") for name, seconds in stages.items()),
            *(row("stage_overhead", f"{name} in the cold repro (wall beyond training and validation)", v, "s") for name, v in train_overhead.items()),
            row("cold_repro", "restoration stages' share of the cold repro (restore@<model> and restore_reference)", restoring / cold, "", "<= 0.2", restoring / cold <= 0.2),
        ]
        write_rows(rows)
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
