"""The metric registry: keys, needs and directions drive the suite, the leaderboard and tune."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from genmodels.data.base import DatasetInfo
from genmodels.metrics.config import EvaluateConfig
from genmodels.metrics.extractors.toy2d import Toy2dExtractor
from genmodels.metrics.registry import (
    NEEDS,
    EvalInputs,
    MetricKey,
    Undefined,
    key_specs,
    markdown_table,
    metric_keys,
    register_metric,
    tune_objectives,
    unregister_metric,
)
from genmodels.metrics.suite import evaluate, run_metrics

POINTS = DatasetInfo("toy2d", "points", (2,), None, None, (-4.0, 4.0))


@pytest.fixture
def throwaway():
    names = []

    def register(name: str, keys, needs=("features",), per_epoch=False, fn=None):  # noqa: ANN001, ANN202
        register_metric(name, keys, needs, per_epoch)(fn or (lambda inp: {k.name: 1.0 for k in keys}))
        names.append(name)

    yield register
    for name in names:
        unregister_metric(name)


def inputs(**kw) -> EvalInputs:  # noqa: ANN003
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(200, 2)).astype(np.float32), rng.normal(size=(150, 2)).astype(np.float32)
    base = dict(real={"features": real}, fake={"features": fake}, fake_x=fake, info=POINTS,
                cfg=EvaluateConfig(kid_subsets=5, kid_subset_size=50), seed=0, extractor=Toy2dExtractor(None))  # fmt: skip
    return EvalInputs(**{**base, **kw})


def test_a_registered_metric_gets_keys_direction_and_tune_eligibility(throwaway) -> None:
    throwaway("spread", [MetricKey("spread", "lower", "test"), MetricKey("spread_sd", None, "test")], per_epoch=True)
    assert metric_keys()[-2:] == ("spread", "spread_sd")  # registration order
    assert key_specs()["spread"].better == "lower"
    assert "spread" in tune_objectives() and "spread_sd" not in tune_objectives()  # unranked keys are no objective
    assert "| `spread` | lower | features | test |" in markdown_table()


def test_registration_errors_are_clear(throwaway) -> None:
    with pytest.raises(ValueError, match="already written by another metric"):
        throwaway("fid_again", [MetricKey("fid", "lower")])
    with pytest.raises(ValueError, match="unknown needs"):
        throwaway("x", [MetricKey("x")], needs={"gpu"})
    with pytest.raises(ValueError, match="at least one key"):
        throwaway("y", [])


def test_missing_needs_and_undefined_give_null_with_the_reason(throwaway) -> None:
    throwaway("needs_model", [MetricKey("needs_model_key")], needs={"model"})

    def undefined(inp: EvalInputs) -> dict:
        raise Undefined("not for this data")

    throwaway("never", [MetricKey("never_key")], fn=undefined)
    throwaway("with_extra", [MetricKey("with_extra_key")], fn=lambda inp: {"with_extra_key": 2, "with_extra_sd": 0.5})
    out = run_metrics(inputs()).as_json()
    assert out["needs_model_key"] is None and out["notes"]["needs_model_key"] == NEEDS["model"]
    assert out["never_key"] is None and out["notes"]["never_key"] == "not for this data"
    assert out["with_extra_key"] == 2.0 and out["with_extra_sd"] == 0.5  # supporting numbers ride along
    assert set(metric_keys()) <= set(out)


def test_the_suite_runs_every_registered_metric_once(throwaway) -> None:
    calls = []
    throwaway("counted", [MetricKey("counted")], fn=lambda inp: calls.append(1) or {"counted": len(calls)})
    report, fake = evaluate({"features": inputs().real["features"]}, inputs().fake_x, Toy2dExtractor(None), POINTS,
                            EvaluateConfig(kid_subsets=5, kid_subset_size=50), seed=0)  # fmt: skip
    assert calls == [1] and report.metrics["counted"] == 1.0 and set(fake) == {"features"}


def test_the_documented_metric_table_is_the_registry_output() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "leaderboard.md").read_text()
    block = re.search(r"<!-- metric-table:start -->\n(.*?)\n<!-- metric-table:end -->", doc, re.S)
    assert block is not None and block.group(1) == markdown_table(), "run: python -m genmodels.metrics.registry"
