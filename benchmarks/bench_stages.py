"""Benchmark ``stage_overhead``: the fixed seconds of one pipeline stage, beyond its own work.

    .venv/bin/python benchmarks/bench_stages.py [--repeat 2] [--no-ray]

Every stage of ``dvc.yaml`` runs as its command (``genmodels <stage> [vae]``, what DVC runs)
in a temporary project with a tiny pipeline (one 1-epoch VAE with one 32-unit layer on
digits, a 1-epoch evaluator, 100 samples, 8 restored images, cheap evaluation settings), so
that what is left is what every stage pays however small its job: the interpreter's start,
the imports, MLflow (store, run, artifacts), and Ray where the stage uses it.

    stage_overhead(stage) = CPU(command) - CPU(work)

twice: **warm** (the default: the command is a client of the warm runner of
``pipelines/warm.py``, which forks a process that has the third-party packages imported;
target <= 2 CPU s) and **cold** (``GENMODELS_WARM=0``: a fresh interpreter imports everything;
no target). The runner's own start-up (the imports it pays once for all later stages) is a row
of its own.

The machine is shared, so the figure is in CPU seconds (user + system of the command and
everything it waited for, one BLAS/OpenMP thread: on an idle core that is its wall time);
for a warm command that is the client's CPU plus the fork's, which the client reports
(``GENMODELS_WARM_RUSAGE``: the fork is the runner's child, not the client's). Wall seconds
are printed beside it. ``work``: the same stage function called a second time
in one warm Python process (imports done, MLflow store open), i.e. what the stage's job
costs; for ``train``, the CPU seconds of its ``fit`` (the training itself, checkpoints
included), so the MLflow run, the export and the artifacts count as overhead. Each command
runs ``--repeat`` times, the least CPU is kept. ``imports`` (cold): the CPU seconds of importing,
in a fresh interpreter, the top-level modules a ``python -X importtime`` run of the
command imported (lazy imports included), in the same order. ``train (ray, 1 worker)``:
the train command on Ray Train (``scaling.backend: ray``; with one worker the default
``auto`` backend trains in-process), wall seconds minus its ``train_seconds``: Ray's
processes are not children the CPU clock can follow. Rows go to ``benchmarks/results.csv``;
the cold default ``dvc repro``, stage by stage, is ``bench_repro.py``'s.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results import row, write_rows

TARGET = 2.0  # warm
PARAMS = """
experiment: bench-stages
models: {vae: vae}
evaluator: {epochs: 1}
vae:
  model: {hidden: [32], latent_dim: 4, prior: standard, iw_samples: 2}
  fit: {epochs: 1, batch_size: 128, select: last}
sample: {n: 100, grid: 16}
restore: {n_images: 8, pictures: 4, completions: 2, latent_steps: 20, importance_samples: 200}
evaluate: {bootstrap: 10, ppl_samples: 10, throughput_samples: 10, nll_max_samples: 50, kid_subsets: 2, prdc_repeats: 1}
"""
RAY_PARAMS = PARAMS + "scaling: {backend: ray, num_workers: 1}\n"
# (stage, command arguments): the order of dvc.yaml
STAGES = [
    ("check", ["check"]),
    ("prepare", ["prepare"]),
    ("evaluator", ["evaluator"]),
    ("train", ["train", "vae"]),
    ("sample", ["sample", "vae"]),
    ("evaluate", ["evaluate", "vae"]),
    ("reference", ["reference"]),
    ("restore", ["restore", "vae"]),
    ("restore-reference", ["restore-reference"]),
    ("report", ["report"]),
]
WARM = """
import json, shutil, sys, time
from pathlib import Path
from pipelines import check, evaluate, evaluator, prepare, reference, report, restore, restore_reference, sample, train
root = Path(sys.argv[1])
calls = {
    "check": lambda: check.run(root), "prepare": lambda: prepare.run(root), "evaluator": lambda: evaluator.run(root),
    "train": lambda: train.run(root, "vae"), "sample": lambda: sample.run(root, "vae"), "evaluate": lambda: evaluate.run(root, "vae"),
    "reference": lambda: reference.run(root), "restore": lambda: restore.run(root, "vae"),
    "restore-reference": lambda: restore_reference.run(root), "report": lambda: report.run(root),
}
fit_cpu = []
fit = train.fit
def timed_fit(*args, **kwargs):
    t0 = time.process_time()
    try:
        return fit(*args, **kwargs)
    finally:
        fit_cpu.append(time.process_time() - t0)
train.fit = timed_fit  # the training itself, inside train.run
out = {}
for name, call in calls.items():
    for i in range(2):  # the first call warms up (imports, MLflow store); the second is the stage's work
        shutil.rmtree(root / ".ray_runs", ignore_errors=True)  # train: retrain instead of resuming the finished run
        t0, w0 = time.process_time(), time.perf_counter()
        call()
        out[name] = time.process_time() - t0
        out[name + " wall"] = time.perf_counter() - w0
out["train fit"] = fit_cpu[-1]
print(json.dumps(out))
"""


WARM_MODE = {"on": False, "dir": ""}  # commands run as clients of the warm runner (its own short folder under /tmp)


def env_for(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS")}
    env.update(GENMODELS_ROOT=str(root), PATH=f"{Path(sys.executable).parent}:{env['PATH']}", RAY_USAGE_STATS_ENABLED="0", OMP_NUM_THREADS="1")
    env.update(GENMODELS_WARM="1" if WARM_MODE["on"] else "0", GENMODELS_WARM_DIR=WARM_MODE["dir"], GENMODELS_WARM_RUSAGE=str(root / "rusage.json"))
    return env


def command(args: list[str]) -> list[str]:
    """``genmodels ARGS`` as DVC runs it (the console script beside this interpreter)."""
    script = Path(sys.executable).parent / "genmodels"
    return [str(script), *args] if script.is_file() else [sys.executable, "-m", "pipelines.cli", *args]


class CommandFailed(Exception):
    """A command exited non-zero (the message holds its error lines)."""


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(root: Path, cmd: list[str], stdin: str | None = None) -> tuple[float, float, str, str]:
    """Wall and CPU seconds of a command (and what it waited for), its stdout and stderr."""
    fork = root / "rusage.json"
    fork.unlink(missing_ok=True)
    c0, t0 = children_cpu(), time.perf_counter()
    out = subprocess.run(cmd, cwd=root, env=env_for(root), input=stdin, capture_output=True, text=True, check=False)
    wall, cpu = time.perf_counter() - t0, children_cpu() - c0
    if fork.is_file():  # a warm client: its fork's CPU seconds
        usage = json.loads(fork.read_text())
        cpu += usage["user"] + usage["system"]
    if out.returncode != 0:
        errors = "\n".join(line for line in out.stderr.splitlines() if "error" in line.lower())
        raise CommandFailed(f"{' '.join(cmd)} failed:\n{(errors or out.stderr)[-4000:]}")
    return wall, cpu, out.stdout, out.stderr


def top_level_imports(stderr: str) -> list[str]:
    """The top-level modules of a ``-X importtime`` log, in import order (nested ones are indented)."""
    mods = []
    for line in stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            cumulative, name = line.split("|")[1:]
            if cumulative.strip().isdigit() and not name[1:].startswith(" "):
                mods.append(name.strip())
    return mods


REPLAY = """
import importlib, json, sys, time
mods = json.load(sys.stdin)
t0 = time.process_time()
for m in mods:
    try:
        importlib.import_module(m)
    except BaseException:
        pass
print(time.process_time() - t0)
"""


def import_cpu(root: Path, args: list[str]) -> float:
    """CPU seconds of importing what the command imports, in a fresh interpreter."""
    stderr = timed(root, [sys.executable, "-X", "importtime", *command(args)])[3]
    shutil.rmtree(root / ".ray_runs", ignore_errors=True)
    return float(timed(root, [sys.executable, "-c", REPLAY], json.dumps(top_level_imports(stderr)))[2].strip())


def start_runner(root: Path) -> float:
    """Start the warm runner for the benchmark's environment; returns the CPU seconds of its imports."""
    WARM_MODE.update(on=True, dir=tempfile.mkdtemp(prefix="gw", dir="/tmp"))
    timed(root, command(["check"]))  # cold, and starts the runner
    deadline = time.monotonic() + 300
    while not list(Path(WARM_MODE["dir"]).glob("*.sock")):
        if time.monotonic() > deadline:
            raise CommandFailed(f"the warm runner did not start (see its log in {WARM_MODE['dir']})")
        time.sleep(0.2)
    code = "import time; from pipelines import warm_runner; t = time.process_time(); warm_runner._preload(); print(time.process_time() - t)"
    return float(subprocess.run([sys.executable, "-c", code], cwd="/", env=env_for(root), capture_output=True, text=True, check=True).stdout.strip())


def stop_runner() -> None:
    for log in Path(WARM_MODE["dir"]).glob("*.log"):
        for line in log.read_text().splitlines():
            if ": serving" in line:
                try:
                    os.kill(int(line.split()[2].rstrip(":")), 15)
                except (OSError, ValueError):
                    pass
    shutil.rmtree(WARM_MODE["dir"], ignore_errors=True)


def stage_walls(root: Path, repeat: int, params: str | None = None, imports: bool = True) -> dict[str, dict[str, float]]:
    out = {}
    for name, args in STAGES:
        args = [*args, *(["--params", params] if params else [])]
        walls, cpus = [], []
        for _ in range(repeat):
            shutil.rmtree(root / ".ray_runs", ignore_errors=True)
            wall, cpu, _, _ = timed(root, command(args))
            walls.append(wall)
            cpus.append(cpu)
        shutil.rmtree(root / ".ray_runs", ignore_errors=True)
        out[name] = entry = {"wall": min(walls), "cpu": min(cpus), "imports": import_cpu(root, args) if imports else math.nan}
        print(f"  {name}: {entry['cpu']:.2f} CPU s, wall {entry['wall']:.2f} s (best of {repeat}), imports {entry['imports']:.2f} CPU s", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=2, help="runs of each command; the best wall is kept")
    ap.add_argument("--no-ray", action="store_true", help="skip the train stage on Ray Train")
    ap.add_argument("--keep", type=Path, help="work in this folder and keep it")
    ap.add_argument("--no-write", action="store_true", help="print only; leave benchmarks/results.csv alone")
    args = ap.parse_args()
    start = time.perf_counter()
    root = args.keep or Path(tempfile.mkdtemp(prefix="genmodels-bench-stages-"))
    root.mkdir(parents=True, exist_ok=True)
    (root / "params.yaml").write_text(PARAMS)
    (root / "params-ray.yaml").write_text(RAY_PARAMS)
    print(f"load average {os.getloadavg()[0]:.2f}", flush=True)
    start_python = min(timed(root, [sys.executable, "-c", "pass"])[1] for _ in range(3))
    print(f"python start: {start_python:.3f} CPU s", flush=True)
    print("cold (GENMODELS_WARM=0):", flush=True)
    walls = {"cold": stage_walls(root, args.repeat)}
    try:
        runner_cpu = start_runner(root)
        print(f"warm runner: its imports {runner_cpu:.2f} CPU s, once", flush=True)
        walls["warm"] = stage_walls(root, args.repeat, imports=False)
    finally:
        stop_runner()
        WARM_MODE.update(on=False, dir="")
    warm = json.loads(timed(root, [sys.executable, "-c", WARM, str(root)])[2].strip().splitlines()[-1])
    rows, table = [], []
    for name, _ in STAGES:
        work = warm["train fit"] if name == "train" else warm[name]
        for mode in ("warm", "cold"):
            w = walls[mode][name]
            overhead = w["cpu"] - work
            table.append((f"{name} ({mode})", w["cpu"], work, overhead, w["imports"], w["wall"], warm[name + " wall"]))
            if mode == "warm":
                rows.append(row("stage_overhead", f"{name} (warm runner)", overhead, "CPU s", f"<= {TARGET:g}", overhead <= TARGET))
            else:
                rows.append(row("stage_overhead", f"{name} (cold)", overhead, "CPU s"))
                rows.append(row("stage_overhead", f"{name} imports (cold)", w["imports"], "CPU s"))
    rows.append(row("stage_overhead", "warm runner start-up (imports, once per runner)", runner_cpu, "CPU s"))
    print("\n| stage | command (CPU s) | work (CPU s) | overhead (CPU s) | of which imports | command wall (s) | work wall (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, cpu, work, overhead, imports, wall, work_wall in table:
        print(f"| {name} | {cpu:.2f} | {work:.2f} | {overhead:.2f} | {imports:.2f} | {wall:.2f} | {work_wall:.2f} |")
    print(
        f"(work: the CPU seconds of train's fit, of the warm second call otherwise; python start {start_python:.2f} CPU s; "
        f"load average {os.getloadavg()[0]:.2f})",
        flush=True,
    )
    if not args.no_ray:
        shutil.rmtree(root / ".ray_runs", ignore_errors=True)
        try:
            ray_wall = min(timed(root, command(["train", "vae", "--params", "params-ray.yaml"]))[0] for _ in range(args.repeat))
        except CommandFailed as exc:  # Ray on a shared machine: report it, keep the other figures
            print(f"train on Ray Train, 1 worker: {exc}", flush=True)
        else:
            ray_train = json.loads((root / "models/vae/history.json").read_text())[-1]["train_seconds"]
            print(f"train on Ray Train, 1 worker: {ray_wall:.1f} s wall, {ray_train:.2f} s training -> {ray_wall - ray_train:.1f} s overhead (wall)")
            rows.append(row("stage_overhead", "train (ray, 1 worker; wall)", ray_wall - ray_train, "s"))
    rows.append(row("stage_overhead", "python start", start_python, "CPU s"))
    print(f"bench_stages: {time.perf_counter() - start:.0f} s wall")
    if not args.no_write:
        write_rows(rows)
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
