"""Stage ``evaluator``: train the domain feature network, store it with the real test set's statistics.

Its ``card.json`` records the data it was built for (:func:`pipelines.common.data_facts`), which
every reader of the folder checks (:func:`pipelines.common.check_evaluator`).
"""

from __future__ import annotations

from pathlib import Path

from genmodels.atomic import staged_dir, write_json
from genmodels.device import resolve_device
from genmodels.metrics.build import build_extractor
from genmodels.metrics.features import save_extractor
from genmodels.metrics.reference import compute_reference, save_reference
from pipelines import paths
from pipelines.common import data_facts, load_prepared, log, params


def run(root: Path, params_file: str | None = None) -> dict:
    p = params(root, params_file)
    data = load_prepared(root)
    extractor, card = build_extractor(data, p.evaluator, p.seed, resolve_device(p.scaling.use_gpu))
    with staged_dir(root / paths.EVALUATOR) as tmp:
        save_extractor(extractor, tmp)
        save_reference(tmp / paths.REFERENCE.name, compute_reference(extractor, data.test.x, data.test.y, data.train.x))
        write_json(tmp / paths.EVALUATOR_CARD.name, {**card, **data_facts(data.info), "test_size": len(data.test)})
    log("evaluator: " + ", ".join(f"{k}={v}" for k, v in card.items()))
    return card
