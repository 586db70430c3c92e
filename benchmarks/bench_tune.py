"""Benchmark: does ASHA find what a full random search finds, for less?

Runs ``genmodels tune`` twice over the same seeded random configurations of a small VAE on
digits: once with every trial trained to the end (``scheduler: fifo``, the full random
search) and once with ASHA. Figures: ASHA's best validation objective relative to the full
search's best (target: within 5 %), and the trial-epochs ASHA spent as a share of the full
search's (target: at most 40 %), plus both wall times. Rows go to ``benchmarks/results.csv``.
A finished search in ``--keep DIR`` is restored, not rerun (its first wall time is kept).
Run: ``.venv/bin/python benchmarks/bench_tune.py [--trials 16] [--epochs 30] [--grace 3] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results import row, write_rows

PARAMS = """
experiment: bench-tune
models: {{vae: vae}}
vae: {{model: {{hidden: [128], latent_dim: 8}}, fit: {{epochs: {epochs}, batch_size: 64, select: last}}}}
tune:
  epochs: {epochs}
  num_samples: {trials}
  max_concurrent_trials: 2
  scheduler: {scheduler}
  grace_period: {grace}        # ASHA's first rung (unused by fifo)
  reduction_factor: {rf}
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
    out = subprocess.run([sys.executable, "-m", "pipelines.cli", *args], env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"genmodels {' '.join(args)} failed:\n{out.stderr[-4000:]}")
    return time.perf_counter() - t0


def search(root: Path, label: str, text: str) -> tuple[dict, float]:
    """Run (or restore, when it finished before) one search; its summary and first wall time."""
    name = f"params-{label}.yaml"
    (root / name).write_text(text)
    walls_file = root / "walls.json"
    walls = json.loads(walls_file.read_text()) if walls_file.is_file() else {}
    wall = cli(root, "tune", "--model", "vae", "--params", name, "--resume")
    key = f"{label}:{hashlib.sha256(text.encode()).hexdigest()[:12]}"
    walls.setdefault(key, wall)
    walls_file.write_text(json.dumps(walls, indent=1))
    summary = json.loads((root / "reports/tune-vae.json").read_text())
    (root / f"tune-vae-{label}.json").write_text(json.dumps(summary, indent=1))
    return summary, walls[key]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=30, help="epochs per trial (ASHA's max_t)")
    ap.add_argument("--grace", type=int, default=3, help="ASHA's grace period (its first rung), in epochs")
    ap.add_argument("--rf", type=int, default=3, help="ASHA's reduction factor")
    ap.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="genmodels-bench-tune-"))
    root.mkdir(parents=True, exist_ok=True)
    fifo = PARAMS.format(trials=args.trials, epochs=args.epochs, scheduler="fifo", grace=1, rf=3)
    (root / "params.yaml").write_text(fifo)
    if not (root / "models/evaluator").is_dir():
        cli(root, "prepare")
        cli(root, "evaluator")
    full, full_wall = search(root, "fifo", fifo)
    label = f"asha-g{args.grace}-rf{args.rf}"
    asha, asha_wall = search(root, label, PARAMS.format(trials=args.trials, epochs=args.epochs, scheduler="asha", grace=args.grace, rf=args.rf))
    configs = lambda s: sorted(json.dumps(t["config"], sort_keys=True) for t in s["trials"])
    same = configs(full) == configs(asha)
    gap = asha["best"]["fid"] / full["best"]["fid"] - 1.0
    share = asha["trial_epochs"] / full["trial_epochs"]
    rows = [
        row("tune", f"asha_best_val_fid_gap_vs_full_random (grace {args.grace}, rf {args.rf})", f"{100 * gap:.2f}", "%", "<= 5", gap <= 0.05),
        row("tune", f"asha_trial_epochs_share_of_full_random (grace {args.grace}, rf {args.rf})", f"{100 * share:.1f}", "%", "<= 40", share <= 0.40),
        row("tune", "full_random_search_wall", f"{full_wall:.0f}", "s"),
        row("tune", f"asha_search_wall (grace {args.grace}, rf {args.rf})", f"{asha_wall:.0f}", "s"),
    ]
    write_rows(rows)
    print(f"| search ({args.trials} trials x {args.epochs} epochs, same configurations: {same}) | best val FID | test FID of the best | trial-epochs | wall |")
    print("|---|---|---|---|---|")
    for name, s, wall in (("full random (fifo)", full, full_wall), (f"ASHA (grace {args.grace}, rf {args.rf})", asha, asha_wall)):
        test = (s["best"].get("test") or {}).get("test_fid")
        print(f"| {name} | {s['best']['fid']:.4f} | {test:.4f} | {s['trial_epochs']} | {wall:.0f} s |")
    print(f"ASHA's best is {100 * gap:+.2f} % from the full search's best (target <= 5 %), spending {100 * share:.1f} % of its trial-epochs (target <= 40 %)")
    print(f"full: best {full['best']['config']}; ASHA: best {asha['best']['config']}; outcomes {asha['outcomes']}")


if __name__ == "__main__":
    main()
