"""``genmodels metrics``: sample metrics between any two sample files, no model needed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genmodels.data import read_samples
from genmodels.errors import DataError
from genmodels.metrics.features import extract_cached, load_extractor
from genmodels.metrics.suite import MetricReport, real_layers, sample_metrics
from genmodels.training.checkpoint import info_from_dict
from pipelines.common import log, write_json


def run(real: Path, fake: Path, evaluator: Path, out: Path, features_out: Path | None, cfg, seed: int = 0, cache_dir: Path | None = None) -> dict:  # noqa: ANN001
    extractor = load_extractor(evaluator)
    r, f = read_samples(real), read_samples(fake)
    if r.shape != f.shape:
        raise DataError(f"sample shapes differ: {real} has {list(r.shape)}, {fake} has {list(f.shape)}")
    kind = "points" if len(r.shape) == 1 else "image"
    extra = dict(extractor.kwargs) if extractor.name == "toy2d" and extractor.kwargs.get("means") else {}
    num_classes = int(extractor.kwargs.get("num_classes") or len(extra.get("means") or [])) or None
    info = info_from_dict({"name": "external", "kind": kind, "shape": r.shape, "levels": None, "num_classes": num_classes,
                           "value_range": [float(r.x.min()), float(r.x.max())], "extra": extra})  # fmt: skip
    real_feats = extract_cached(extractor, r.x, real_layers(extractor), cache_dir)  # real features are reused across calls
    report = MetricReport()
    fake_feats = sample_metrics(report, real_feats, f.x, extractor, info, r.y, cfg, seed)
    for key in ("ppl", "nll_bits_per_dim", "anomaly_auroc", "samples_per_second", "train_seconds"):
        report.null(key, "needs the model, not only samples")
    result = report.as_json()
    result["inputs"] = {"real": str(real), "fake": str(fake), "evaluator": str(evaluator), "extractor": extractor.name}
    if features_out is not None:
        features_out.mkdir(parents=True, exist_ok=True)
        for side, feats in (("real", real_feats), ("fake", fake_feats)):
            for layer, arr in feats.items():
                np.save(features_out / f"{side}_{layer}.npy", arr)
        log(f"features written to {features_out}/{{real,fake}}_{{{','.join(real_feats)}}}.npy")
    write_json(out, result)
    return result
