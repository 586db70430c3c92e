"""Benchmark: does ASHA find what a full random search finds, for less?

Runs ``genmodels tune`` twice over the same seeded random configurations of a small VAE on
digits: once with every trial trained to the end (``scheduler: fifo``, the full random
search) and once with ASHA. Figures: ASHA's best validation objective relative to the full
search's best (target: within 5 %), and the trial-epochs ASHA spent as a share of the full
search's (target: at most 40 %), plus both wall times. Rows go to ``benchmarks/results.csv``.
Run: ``.venv/bin/python benchmarks/bench_tune.py [--trials 16] [--epochs 27] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARAMS = """
experiment: bench-tune
models: {{vae: vae}}
vae: {{model: {{hidden: [128], latent_dim: 8}}, fit: {{epochs: {epochs}, batch_size: 64, select: last}}}}
tune:
  num_samples: {trials}
  max_concurrent_trials: 2
  scheduler: {scheduler}
  grace_period: 1
  reduction_factor: 3
  eval_samples: 500
  space:
    fit.lr: {{loguniform: [1.0e-4, 1.0e-2]}}
    fit.batch_size: {{choice: [32, 64, 128]}}
    model.latent_dim: {{choice: [2, 4, 8, 16]}}
"""


def cli(root: Path, *args: str) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS")}
    env.update(GENMODELS_ROOT=str(root), PATH=f"{Path(sys.executable).parent}:{env['PATH']}", RAY_USAGE_STATS_ENABLED="0")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "pipelines.cli", *args], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"genmodels {' '.join(args)} failed:\n{out.stderr[-4000:]}")
    return time.perf_counter() - t0


def search(root: Path, scheduler: str, trials: int, epochs: int) -> tuple[dict, float]:
    name = f"params-{scheduler}.yaml"
    (root / name).write_text(PARAMS.format(trials=trials, epochs=epochs, scheduler=scheduler))
    wall = cli(root, "tune", "--model", "vae", "--params", name)
    summary = json.loads((root / "reports/tune-vae.json").read_text())
    (root / f"tune-vae-{scheduler}.json").write_text(json.dumps(summary, indent=1))
    return summary, wall


def commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return out.stdout.strip()


def write_rows(rows: list[list]) -> None:
    """Replace this benchmark's rows of ``benchmarks/results.csv`` (header: the DESIGN.md columns)."""
    path = ROOT / "benchmarks/results.csv"
    header = ["benchmark", "figure", "value", "unit", "target", "met", "machine", "commit"]
    kept = []
    if path.is_file():
        with open(path, newline="") as f:
            kept = [r for r in csv.reader(f)][1:]
    kept = [r for r in kept if r and r[0] != "tune"]
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([header, *kept, *rows])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=27, help="epochs per trial (ASHA rungs at 1, 3, 9, 27 with reduction factor 3)")
    ap.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="genmodels-bench-tune-"))
    root.mkdir(parents=True, exist_ok=True)
    (root / "params.yaml").write_text(PARAMS.format(trials=args.trials, epochs=args.epochs, scheduler="fifo"))
    if not (root / "models/evaluator").is_dir():
        cli(root, "prepare")
        cli(root, "evaluator")
    full, full_wall = search(root, "fifo", args.trials, args.epochs)
    asha, asha_wall = search(root, "asha", args.trials, args.epochs)
    configs = lambda s: sorted(json.dumps(t["config"], sort_keys=True) for t in s["trials"])  # noqa: E731
    same = configs(full) == configs(asha)
    gap = asha["best"]["fid"] / full["best"]["fid"] - 1.0
    share = asha["trial_epochs"] / full["trial_epochs"]
    machine = f"{platform.machine()} {os.cpu_count()} cpu"
    rows = [
        ["tune", "asha_best_val_fid_gap_vs_full_random", f"{100 * gap:.2f}", "%", "<= 5", str(gap <= 0.05), machine, commit()],
        ["tune", "asha_trial_epochs_share_of_full_random", f"{100 * share:.1f}", "%", "<= 40", str(share <= 0.40), machine, commit()],
        ["tune", "full_random_search_wall", f"{full_wall:.0f}", "s", "", "", machine, commit()],
        ["tune", "asha_search_wall", f"{asha_wall:.0f}", "s", "", "", machine, commit()],
    ]
    write_rows(rows)
    print(f"| search ({args.trials} trials x {args.epochs} epochs, same configurations: {same}) | best val FID | test FID of the best | trial-epochs | wall |")
    print("|---|---|---|---|---|")
    for label, s, wall in (("full random (fifo)", full, full_wall), ("ASHA (rf 3, grace 1)", asha, asha_wall)):
        test = (s["best"].get("test") or {}).get("test_fid")
        print(f"| {label} | {s['best']['fid']:.4f} | {test:.4f} | {s['trial_epochs']} | {wall:.0f} s |")
    print(f"ASHA's best is {100 * gap:+.2f} % from the full search's best (target <= 5 %), spending {100 * share:.1f} % of its trial-epochs (target <= 40 %)")
    print(f"full: best {full['best']['config']}; ASHA: best {asha['best']['config']}; outcomes {asha['outcomes']}")


if __name__ == "__main__":
    main()
