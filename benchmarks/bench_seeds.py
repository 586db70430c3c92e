"""Benchmark: FID over several training seeds, for the quality claims that must include seed spread.

A cold ``dvc repro`` in a fresh copy of the project (``bench_repro.make_project``) of a params
file with ``seeds:`` set (every model trained once per seed; the data split, the evaluator and
the sampling seed stay fixed) and, optionally, only some of its models. Rows
(``quality_<dataset>``): each model's FID mean and sd over the seeds, and the quality targets of
``bench_quality.target_rows`` on those means (digits: every neural family's mean below the
better of the GMM's and the KDE's).

Run: ``.venv/bin/python benchmarks/bench_seeds.py --models flow,gmm,kde [--seeds 0,1,2] [--params FILE] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import tempfile
from pathlib import Path

import bench_quality
import bench_repro
import yaml
from results import row, write_rows


def seeded_params(params: dict, seeds: list[int], models: list[str] | None) -> dict:
    """``params`` with ``seeds`` (the first becomes ``seed``: the split stays the one ``seed`` gives)
    and only ``models`` (their sections kept; the others' dropped)."""
    out = dict(params)
    if seeds[0] != params.get("seed", 0):
        raise SystemExit(f"the first seed must be the params' seed ({params.get('seed', 0)}): it fixes the data split")
    out["seeds"] = seeds
    if models:
        unknown = sorted(set(models) - set(params["models"]))
        if unknown:
            raise SystemExit(f"no model(s) {unknown} in the params (they have {sorted(params['models'])})")
        for name in set(params["models"]) - set(models):
            out.pop(name, None)
        out["models"] = {name: params["models"][name] for name in models}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", type=Path, default=bench_repro.ROOT / "params.yaml")
    ap.add_argument("--seeds", default="0,1,2", help="training seeds, comma-separated; the first is the params' seed")
    ap.add_argument("--models", help="comma-separated model names (default: all of the params')")
    ap.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of every stage (default 1)")
    ap.add_argument("--keep", type=Path, help="run in this folder and keep it")
    ap.add_argument("--no-write", action="store_true", help="print, do not write benchmarks/results.csv")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    params = seeded_params(yaml.safe_load(args.params.read_text()), seeds, args.models.split(",") if args.models else None)
    work = args.keep or Path(tempfile.mkdtemp(prefix="genmodels-seeds-"))
    work.mkdir(parents=True, exist_ok=True)
    bench_repro.THREADS = str(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        bench_repro.make_project(work, Path(tmp) / "params.yaml")
    wall = bench_repro.repro(work)[0]
    name = f"quality_{params['data']['name']}"
    with open(work / "reports/leaderboard.csv", newline="") as f:
        board = list(csv.DictReader(f))
    label = ", ".join(map(str, seeds))
    rows = []
    for r in board:
        if r.get("fid_seed_mean"):
            mean, sd = float(r["fid_seed_mean"]), float(r["fid_seed_sd"])
            rows.append(row(name, f"{r['model']} fid, mean over training seeds {label} (OMP_NUM_THREADS {args.threads})", mean, f"FID, sd {sd:.3g}"))
    rows += [[*r[:1], f"{r[1]} ({len(seeds)} training seeds)", *r[2:]] for r in bench_quality.target_rows(name, board) if "fid" in r[1]]
    rows.append(row(name, f"wall of the {len(seeds)}-seed run ({', '.join(params['models'])}; OMP_NUM_THREADS {args.threads})", wall, "s"))
    print((work / "reports/leaderboard.md").read_text())
    for r in rows:
        print(r)
    if not args.no_write:
        write_rows(rows)
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
