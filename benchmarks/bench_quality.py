"""Benchmark: the leaderboard of a params file, run twice, and the largest difference between the runs.

``quality_<dataset>`` rows (``quality_digits`` for ``params.yaml``, ``quality_mnist5k`` for
``presets/mnist5k/params.yaml``): each model's FID with its 95 % interval and its discrete NLL with its
kind, from the first run, and the largest absolute difference between the two runs over every
number in every ``metrics/<model>.json`` except timings (target 0: same params and seed on the
same machine give the same metrics). Each run is a cold ``dvc repro`` in a fresh copy of the
project (``bench_repro.make_project``). ``--first DIR`` reuses a finished copy (``make bench``
passes the one ``bench_repro.py --keep`` left) and runs only the second; otherwise the two runs
go side by side, each with ``--threads`` torch threads (default 1: two single-threaded runs fill
two cores). A thread count can change float sums, so both runs use the same: with ``--first``
the environment's, as ``bench_repro.py`` ran the first. ``--board-of DIR`` runs nothing: it
writes the FID, NLL and target rows of a finished run's leaderboard (for instance
``presets/mnist5k`` after ``make repro PRESET=mnist5k``), without the two-run difference.

Run: ``make bench`` or ``.venv/bin/python benchmarks/bench_quality.py [--params FILE] [--first DIR] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import bench_repro
import yaml
from results import row, write_rows

TIMING = ("seconds", "samples_per_second")  # keys that measure the machine, not the model


def numbers(value: object, prefix: str = "") -> dict[str, float | None]:
    """Every number in a metrics file, flattened to ``key -> value`` (strings such as notes skipped)."""
    if isinstance(value, dict):
        return {k: v for key, sub in value.items() for k, v in numbers(sub, f"{prefix}{key}.").items()}
    if isinstance(value, list):
        return {k: v for i, sub in enumerate(value) for k, v in numbers(sub, f"{prefix}{i}.").items()}
    if value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
        return {prefix.rstrip("."): None if value is None else float(value)}
    return {}


def metrics_of(work: Path) -> dict[str, float | None]:
    out = {}
    for path in sorted((work / "metrics").glob("*.json")):
        for key, v in numbers(json.loads(path.read_text())).items():
            if not any(t in key for t in TIMING):
                out[f"{path.stem}.{key}"] = v
    return out


def largest_difference(a: dict[str, float | None], b: dict[str, float | None]) -> tuple[float, str]:
    """The largest |a - b| over the union of keys (inf where a key or a null is in one run only)."""
    worst, where = 0.0, ""
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key, "missing"), b.get(key, "missing")
        if x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y)):
            continue
        d = abs(x - y) if isinstance(x, float) and isinstance(y, float) else math.inf
        if d > worst:
            worst, where = d, key
    return worst, where


NEURAL = ("vae", "gan", "rbm", "flow")
BASELINES = ("gmm", "kde")
LIKELIHOOD_FLOORS = ("independent", "bayesnet")


def _fid(r: dict[str, str]) -> float:
    """The row's FID: the mean over training seeds when the board has several, else the one run's."""
    return float(r.get("fid_seed_mean") or r["fid"])


def target_rows(name: str, board: list[dict[str, str]]) -> list[list[str]]:
    """The quality targets, met or not.

    mnist5k (``strict``): the VAE's, GAN's and flow's FID intervals lie wholly below both
    baselines' (upper end under the lower of their lower ends); the RBM's FID below the GMM's;
    the VAE's and flow's discrete NLL below the independent model's and the Bayesian network's.
    digits: every neural family's FID (seed mean where there are seeds) below the GMM's and the
    KDE's, the RBM's below the Bayesian network's. A row whose model is missing is not written.
    """
    by_family = {r["family"]: r for r in board if r["fid"]}
    rows = []
    strict = "mnist" in name
    if strict:
        floor = [float(by_family[b]["fid_ci_low"]) for b in BASELINES if b in by_family]
        for fam in ("vae", "gan", "flow"):
            if fam in by_family and floor:
                high = float(by_family[fam]["fid_ci_high"])
                rows.append(row(name, f"{fam} fid interval's upper end minus the lowest baseline (gmm, kde) interval's lower end", high - min(floor), "FID", "< 0", high < min(floor)))
        if {"rbm", "gmm"} <= set(by_family):
            margin = _fid(by_family["rbm"]) - _fid(by_family["gmm"])
            rows.append(row(name, "rbm fid minus gmm fid", margin, "FID", "< 0", margin < 0))
    else:
        best = [_fid(by_family[b]) for b in BASELINES if b in by_family]
        for fam in NEURAL:
            if fam in by_family and best:
                margin = _fid(by_family[fam]) - min(best)
                rows.append(row(name, f"{fam} fid minus the better of gmm and kde", margin, "FID", "< 0", margin < 0))
        if {"rbm", "bayesnet"} <= set(by_family):
            margin = _fid(by_family["rbm"]) - _fid(by_family["bayesnet"])
            rows.append(row(name, "rbm fid minus bayesnet fid", margin, "FID", "< 0", margin < 0))
    nll = {r["family"]: float(r["nll_bits_per_dim"]) for r in board if r["nll_bits_per_dim"]}
    floors = [nll[f] for f in LIKELIHOOD_FLOORS if f in nll]
    for fam in ("vae", "flow"):
        if fam in nll and floors:
            margin = nll[fam] - min(floors)
            rows.append(row(name, f"{fam} test nll minus the better of independent and bayesnet", margin, "bits/dim", "< 0", margin < 0))
    return rows


def board_rows(name: str, run_dir: Path) -> list[list[str]]:
    """Each model's FID (with its interval) and NLL (with its kind) from ``run_dir``'s
    reports/leaderboard.csv, then the targets (:func:`target_rows`)."""
    with open(run_dir / "reports/leaderboard.csv", newline="") as f:
        board = list(csv.DictReader(f))
    rows = []
    for r in board:
        if r["fid"]:
            ci = f"95 % interval [{float(r['fid_ci_low']):.3g}, {float(r['fid_ci_high']):.3g}]"
            rows.append(row(name, f"{r['model']} fid", float(r["fid"]), ci))
        if r["nll_bits_per_dim"]:
            rows.append(row(name, f"{r['model']} nll ({r['nll_kind']})", float(r["nll_bits_per_dim"]), "bits/dim"))
    return rows + target_rows(name, board)


def run(work: Path, params: Path, seconds: dict[str, float]) -> None:
    """One cold ``dvc repro`` in a fresh copy at ``work`` (its wall seconds into ``seconds``)."""
    try:
        bench_repro.make_project(work, params)
        seconds[str(work)] = bench_repro.repro(work)[0]
    except SystemExit as exc:  # bench_repro exits with DVC's output; a thread would drop it silently
        print(f"{work}: {exc}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", type=Path, default=bench_repro.ROOT / "params.yaml")
    ap.add_argument("--first", type=Path, help="a finished copy of the project to compare with (its params must equal --params)")
    ap.add_argument("--keep", type=Path, help="run in this folder (the second run in <keep>/b) and keep it")
    ap.add_argument("--threads", type=int, help="OMP_NUM_THREADS of every stage (default: 1 for two runs side by side; with --first, the environment's, as bench_repro ran it)")
    ap.add_argument("--board-of", type=Path, help="run nothing: the rows of this finished run's reports/leaderboard.csv")
    ap.add_argument("--no-write", action="store_true", help="print, do not write benchmarks/results.csv")
    args = ap.parse_args()
    params = yaml.safe_load(args.params.read_text())
    name = f"quality_{params['data']['name']}"
    if args.board_of is not None:
        rows = board_rows(name, args.board_of)
        print((args.board_of / "reports/leaderboard.md").read_text())
        if not args.no_write:
            write_rows(rows)
        return
    base = args.keep or Path(tempfile.mkdtemp(prefix="genmodels-quality-"))
    threads = args.threads if args.threads is not None or args.first is not None else 1
    bench_repro.THREADS = None if threads is None else str(threads)
    threads_label = os.environ.get("OMP_NUM_THREADS", "default") if threads is None else str(threads)
    t0 = time.perf_counter()
    seconds: dict[str, float] = {}
    if args.first is not None:
        if yaml.safe_load((args.first / "params.yaml").read_text()) != params:
            raise SystemExit(f"{args.first}/params.yaml is not {args.params}: the two runs must use the same params")
        first = args.first
        run(base / "b", args.params, seconds)
        if not seconds:
            raise SystemExit("the run failed (see above)")
    else:
        first = base / "a"
        threads = [threading.Thread(target=run, args=(base / d, args.params, seconds)) for d in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if len(seconds) != 2:
            raise SystemExit("a run failed (see above)")
    wall = time.perf_counter() - t0
    diff, where = largest_difference(metrics_of(first), metrics_of(base / "b"))
    print(f"{name}: largest difference between the two runs {diff:.3g} ({where or 'every value equal'}); {wall:.0f} s wall")
    label = f"{params['data']['name']}, OMP_NUM_THREADS {threads_label}"
    rows = [row(name, f"largest difference between two runs, every metrics/*.json value but timings ({label})", diff, "", "0", diff == 0)]
    rows += board_rows(name, first)
    rows.append(row(name, f"wall of the run(s) this script made ({'one' if args.first else 'two side by side'})", wall, "s"))
    print((first / "reports/leaderboard.md").read_text())
    if not args.no_write:
        write_rows(rows)
    if args.keep is None:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
