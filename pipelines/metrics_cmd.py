"""``genmodels metrics``: sample metrics between any two sample files, no model needed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genmodels.atomic import staged_dir, write_json
from genmodels.data import DatasetInfo, read_samples
from genmodels.errors import DataError
from genmodels.metrics.config import EvaluateConfig
from genmodels.metrics.features import extract_cached, load_extractor
from genmodels.metrics.suite import evaluate, real_layers
from pipelines.common import check_sample_shape, log


def external_info(extractor, shape: tuple[int, ...], x: np.ndarray) -> DatasetInfo:  # noqa: ANN001
    """What the metrics need to know about two sample files that come with no dataset card."""
    kind = "points" if len(shape) == 1 else "image"
    extra = dict(extractor.kwargs) if extractor.name == "toy2d" and extractor.kwargs.get("means") else {}
    num_classes = int(extractor.kwargs.get("num_classes") or len(extra.get("means") or [])) or None
    return DatasetInfo(name="external", kind=kind, shape=shape, levels=None, num_classes=num_classes,
                       value_range=(float(x.min()), float(x.max())), extra=extra)  # fmt: skip


def run(real: Path, fake: Path, evaluator: Path, out: Path, features_out: Path | None, cfg: EvaluateConfig, seed: int = 0, cache_dir: Path | None = None) -> dict:
    extractor = load_extractor(evaluator)
    r, f = read_samples(real), read_samples(fake)
    if r.shape != f.shape:
        raise DataError(f"sample shapes differ: {real} has {list(r.shape)}, {fake} has {list(f.shape)}")
    check_sample_shape(evaluator, r.shape, real)
    info = external_info(extractor, r.shape, r.x)
    real_feats = extract_cached(extractor, r.x, real_layers(extractor), cache_dir)  # real features are reused across calls
    report, fake_feats = evaluate(real_feats, f.x, extractor, info, cfg, seed, real_labels=r.y)
    result = report.as_json()
    result["inputs"] = {"real": str(real), "fake": str(fake), "evaluator": str(evaluator), "extractor": extractor.name}
    if features_out is not None:
        with staged_dir(features_out) as tmp:
            for side, feats in (("real", real_feats), ("fake", fake_feats)):
                for layer, arr in feats.items():
                    np.save(tmp / f"{side}_{layer}.npy", arr)
        log(f"features written to {features_out}/{{real,fake}}_{{{','.join(real_feats)}}}.npy")
    write_json(out, result)
    return result
