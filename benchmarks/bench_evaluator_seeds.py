"""Benchmark: does the ranking of the families depend on the evaluator's seed?

The evaluator (the feature network FID is computed on) is trained afresh under each seed on the
project's prepared data, with the project's ``evaluator`` params; the committed samples of every
model (``samples/<model>.parquet``) are scored against the test split by FID on each one's
features. Rows (``evaluator_seeds``): each evaluator's test accuracy, each model's FID per seed,
and whether the FID ranking of the models is the same under every seed (target: yes).

Run (after ``dvc repro``): ``.venv/bin/python benchmarks/bench_evaluator_seeds.py [--seeds 0,1,2]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from results import row, write_rows  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", default="0,1,2", help="evaluator seeds, comma-separated")
    ap.add_argument("--no-write", action="store_true", help="print, do not write benchmarks/results.csv")
    args = ap.parse_args()
    from genmodels.data import read_samples
    from genmodels.metrics.build import build_extractor
    from genmodels.metrics.features import extract
    from genmodels.metrics.fid import fid_from_features
    from pipelines import paths
    from pipelines.common import load_prepared, params

    p = params(ROOT)
    data = load_prepared(ROOT)
    models = [m for m in p.models if (ROOT / paths.samples_file(m)).is_file()]
    samples = {m: read_samples(ROOT / paths.samples_file(m)).x for m in models}
    rows, rankings = [], []
    for seed in (int(s) for s in args.seeds.split(",")):
        extractor, card = build_extractor(data, p.evaluator, seed, "cpu")
        real = extract(extractor, data.test.x)["features"]
        fid = {m: fid_from_features(real, extract(extractor, x)["features"]) for m, x in samples.items()}
        ranking = sorted(fid, key=fid.get)
        rankings.append(ranking)
        print(f"seed {seed}: test accuracy {card.get('test_accuracy')}; " + " < ".join(f"{m} {fid[m]:.3g}" for m in ranking), flush=True)
        if "test_accuracy" in card:
            rows.append(row("evaluator_seeds", f"test accuracy, evaluator seed {seed}", float(card["test_accuracy"]), "fraction"))
        rows += [row("evaluator_seeds", f"{m} fid, evaluator seed {seed}", fid[m], "FID") for m in models]
    same = all(r == rankings[0] for r in rankings)
    rows.append(row("evaluator_seeds", f"the FID ranking of {len(models)} models is the same under evaluator seeds {args.seeds}", int(same), "1 = yes", "1", same))
    print(f"same ranking under every seed: {same}")
    if not args.no_write:
        write_rows(rows)


if __name__ == "__main__":
    main()
