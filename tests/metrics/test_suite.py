"""The suite's KID and PRDC equal the stand-alone functions, on the cached-Gram path and on the
blocked path for large sets (where KID rides on PRDC's distance blocks)."""

from __future__ import annotations

import numpy as np
import pytest

from genmodels.data.base import DatasetInfo
from genmodels.metrics.config import EvaluateConfig
from genmodels.metrics.extractors.toy2d import Toy2dExtractor
from genmodels.metrics.kid import kid_from_features
from genmodels.metrics.prdc import prdc_from_features
from genmodels.metrics.registry import metric_keys
from genmodels.metrics.suite import evaluate


@pytest.mark.parametrize("path", ["geometry", "blocked"])
def test_sample_metrics_match_the_pure_functions(path: str) -> None:
    rng = np.random.default_rng(0)
    real = rng.normal(size=(400, 2)).astype(np.float32)
    fake = (rng.normal(size=(300, 2)) + 0.3).astype(np.float32)
    info = DatasetInfo("toy2d", "points", (2,), None, None, (-4.0, 4.0))
    limit = 10 if path == "blocked" else EvaluateConfig().geometry_max_points  # blocked: sets too large for the Gram matrices
    cfg = EvaluateConfig(kid_subsets=20, kid_subset_size=100, geometry_max_points=limit)
    report, _ = evaluate({"features": real}, fake, Toy2dExtractor(None), info, cfg, seed=3)
    kid, kid_std = kid_from_features(real, fake, subsets=20, subset_size=100, seed=3)
    assert report.metrics["kid"] == pytest.approx(kid, rel=1e-6, abs=1e-9)
    assert report.metrics["kid_std"] == pytest.approx(kid_std, rel=1e-6, abs=1e-9)
    for key, value in prdc_from_features(real, fake, k=5).items():
        assert report.metrics[key] == pytest.approx(value)
    out = report.as_json()
    assert set(metric_keys()) <= set(out) and out["is"] is None and "logits" in out["notes"]["is"]
    if path == "blocked":  # no Gram matrices: no intervals, said so
        assert out["fid_ci_low"] is None and "intervals need the cached Gram matrices" in out["notes"]["fid_ci_low"]
    else:
        assert out["fid_ci_low"] <= out["fid"] <= out["fid_ci_high"]
