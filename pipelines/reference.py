"""Stage ``reference``: the reference rows, real images scored exactly like a model's samples.

* ``ref-holdout``: the validation split (real images no model saw, not the test set) —
  each metric's real-vs-real noise floor at that sample size;
* ``ref-train-copy``: training images presented as samples (``sample.n`` of them, or the
  whole split if smaller) — what a generator that only copies its training data scores;
  the memorisation columns must flag it.

They go to ``metrics/ref-*.json`` and MLflow, and the leaderboard shows them, marked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genmodels.atomic import write_json, write_npz
from genmodels.data import read_samples
from genmodels.device import resolve_device
from genmodels.metrics.features import load_extractor
from genmodels.metrics.reference import load_reference, real_features
from genmodels.metrics.registry import NEEDS
from genmodels.metrics.suite import evaluate
from pipelines import paths
from pipelines.common import check_evaluator, load_info, log, params

NO_MODEL = "reference row: real images, no model"


def reference_samples(root: Path, n: int, seed: int) -> dict[str, np.ndarray]:
    train, val = read_samples(root / paths.TRAIN), read_samples(root / paths.VAL)
    pick = np.sort(np.random.default_rng(seed).choice(len(train), min(n, len(train)), replace=False))
    return {"ref-holdout": val.x, "ref-train-copy": train.x[pick]}


def run(root: Path, params_file: str | None = None) -> dict[str, dict]:
    from genmodels.tracking.runs import model_run

    p = params(root, params_file)
    info, device = load_info(root), resolve_device(p.scaling.use_gpu)
    extractor = load_extractor(root / paths.EVALUATOR, device)
    check_evaluator(root / paths.EVALUATOR, info)
    ref = load_reference(root / paths.REFERENCE)
    train, test = read_samples(root / paths.TRAIN), read_samples(root / paths.TEST)
    results = {}
    for name, x in reference_samples(root, p.sample.n, p.seed).items():
        report, _ = evaluate(real_features(ref), x, extractor, info, p.evaluate, p.seed, real_labels=ref.get("labels"),
                             train_x=train.x, train_features=ref.get("train_features"), test_x=test.x)  # fmt: skip
        result = report.as_json()
        result["notes"] = {k: (NO_MODEL if v in (NEEDS["model"], NEEDS["restoration"]) else v) for k, v in result["notes"].items()}
        result["samples"] = len(x)
        write_json(root / paths.metrics_file(name), result)
        write_npz(root / paths.resamples_file(name), report.arrays)
        with model_run(root, p.experiment, name, root / paths.RUNS / f"{name}.{paths.RUN_FILE}", new=True) as mlrun:
            mlrun.set_tags({"genmodels.reference": "true", "genmodels.samples": len(x)})
            mlrun.log_metrics({**report.metrics, **report.extra})
            mlrun.log_artifact(root / paths.metrics_file(name), "metrics")
        log(f"reference {name}: {len(x)} real images, fid={result['fid']:.4g}, ct_stat={result['ct_stat']}, nn_train_share={result['nn_train_share']}")
        results[name] = result
    return results
