"""Stage ``prepare``: dataset -> data/prepared/{train,val,test}.parquet + card.json."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genmodels.atomic import staged_dir, write_json
from genmodels.data import load_dataset, write_samples
from pipelines import paths
from pipelines.common import log, params, sha256


def run(root: Path, params_file: str | None = None) -> dict:
    p = params(root, params_file)
    data = load_dataset(p.data, p.seed)
    with staged_dir(root / paths.PREPARED) as tmp:
        write_samples(tmp / paths.TRAIN.name, data.train)
        write_samples(tmp / paths.VAL.name, data.val)
        write_samples(tmp / paths.TEST.name, data.test)
        card = {
            **data.info.to_json(),
            "sizes": {"train": len(data.train), "val": len(data.val), "test": len(data.test)},
            "observed_range": [float(np.min(data.train.x)), float(np.max(data.train.x))],
            "sha256": {f.name: sha256(tmp / f.name) for f in (paths.TRAIN, paths.VAL, paths.TEST)},
        }
        write_json(tmp / paths.CARD.name, card)
    log(f"prepared {data.info.name}: train {len(data.train)}, val {len(data.val)}, test {len(data.test)}, shape {list(data.info.shape)}")
    return card
