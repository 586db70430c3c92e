"""A likelihood worse than the uniform distribution over the K levels (above log2 K bits/dim) is flagged:
in the metrics (``nll_worse_than_uniform``), in the note, in the evaluate stage's output and in the leaderboard."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from genmodels.metrics.builtin.model_based import UNIFORM_FLAG, nll, worse_than_uniform
from genmodels.metrics.config import EvaluateConfig
from genmodels.metrics.registry import EvalInputs, metric_keys
from genmodels.models import build_model
from pipelines import paths, report


def test_the_threshold_is_log2_k_and_continuous_data_have_none() -> None:
    assert worse_than_uniform(math.log2(17) + 1e-9, 17) is True
    assert worse_than_uniform(math.log2(17), 17) is False  # exactly uniform is not worse
    assert worse_than_uniform(124.5, 256) is True and worse_than_uniform(7.99, 256) is False
    assert worse_than_uniform(9.9, None) is None


def nll_of(model, data) -> dict:  # noqa: ANN001
    inp = EvalInputs(real={}, fake={}, fake_x=np.zeros((1, 1, 8, 8), np.float32), info=data.info, cfg=EvaluateConfig(),
                     seed=0, extractor=None, model=model, test_x=data.test.x)  # fmt: skip
    return nll(inp)


@pytest.fixture(scope="module")
def fitted(digits):  # noqa: ANN001
    model = build_model("independent", {}, digits.info)
    model.fit_direct(torch.from_numpy(digits.train.x), None, torch.Generator().manual_seed(0))
    return model.eval()


def test_a_fitted_model_is_not_flagged(digits, fitted) -> None:  # noqa: ANN001
    out = nll_of(fitted, digits)
    assert out["nll_bits_per_dim"] < math.log2(17) and out[UNIFORM_FLAG] == 0.0
    assert "WORSE THAN UNIFORM" not in out["notes"]["nll_bits_per_dim"]


def test_a_model_worse_than_uniform_is_flagged_in_metrics_and_notes(digits, fitted) -> None:  # noqa: ANN001
    # The same per-pixel tables with the levels reversed: mass on the grey levels the pixels do not take.
    broken = build_model("independent", {}, digits.info)
    broken.load_state_dict(fitted.state_dict())
    broken.log_probs.copy_(fitted.log_probs.flip(1))
    out = nll_of(broken.eval(), digits)
    assert out["nll_bits_per_dim"] > math.log2(17)  # an exact likelihood: the model really is worse than uniform
    assert out[UNIFORM_FLAG] == 1.0
    assert "WORSE THAN UNIFORM" in out["notes"]["nll_bits_per_dim"] and "log2 K = 4.087" in out["notes"]["nll_bits_per_dim"]


def test_the_leaderboard_marks_the_flagged_row(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"models": {"good": "independent", "bad": "rbm"}}))
    rows = {"good": (2.1, 0.0, "exact (exact)"), "bad": (124.5, 1.0, "estimate (AIS); WORSE THAN UNIFORM")}
    for name, (bpd, flag, note) in rows.items():
        path = tmp_path / paths.metrics_file(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**dict.fromkeys(metric_keys()), "nll_bits_per_dim": bpd, UNIFORM_FLAG: flag, "notes": {"nll_bits_per_dim": note}}))
    for row in paths.REFERENCE_ROWS:
        (tmp_path / paths.metrics_file(row)).write_text(json.dumps({**dict.fromkeys(metric_keys()), "notes": {}}))
    report.run(tmp_path)
    md = (tmp_path / paths.LEADERBOARD_MD).read_text()
    line = {r.split(" | ")[0].strip("| "): r for r in md.splitlines() if r.startswith("| ")}
    assert "124.5 (estimate) ⚠ worse than uniform" in line["bad"]
    assert "2.1 (exact)" in line["good"] and "worse than uniform" not in line["good"]
    csv = (tmp_path / paths.LEADERBOARD_CSV).read_text().splitlines()
    flag = csv[0].split(",").index(UNIFORM_FLAG)
    assert {r.split(",")[0]: r.split(",")[flag] for r in csv[1:3]} == {"good": "0.0", "bad": "1.0"}
