"""Statistics across training seeds: mean and sample sd per headline metric, per-seed values kept."""

from __future__ import annotations

import json

import pytest

from genmodels.metrics.registry import key_specs
from genmodels.metrics.seeds import across_seeds, headline_keys, per_seed_values


def test_mean_and_sample_sd_per_key_with_each_seeds_value() -> None:
    per_seed = {0: {"fid": 1.0, "is": 3.0}, 1: {"fid": 2.0, "is": 3.0}, 7: {"fid": 6.0, "is": 3.0}}
    out = across_seeds(per_seed, ["fid", "is"])
    assert out["fid_seed_mean"] == pytest.approx(3.0)
    assert out["fid_seed_sd"] == pytest.approx(((1 - 3) ** 2 + (2 - 3) ** 2 + (6 - 3) ** 2) ** 0.5 / (3 - 1) ** 0.5)  # n - 1
    assert out["is_seed_mean"] == 3.0 and out["is_seed_sd"] == 0.0
    assert out["seeds"] == {"0": {"fid": 1.0, "is": 3.0}, "1": {"fid": 2.0, "is": 3.0}, "7": {"fid": 6.0, "is": 3.0}}
    assert list(out["seeds"]) == ["0", "1", "7"] and out["notes"] == {}


def test_a_key_undefined_under_some_seeds_has_no_statistics_and_says_where() -> None:
    out = across_seeds({0: {"ppl": 4.0, "nll": None}, 3: {"ppl": None, "nll": None}}, ["ppl", "nll"])
    assert out["ppl_seed_mean"] is None and out["ppl_seed_sd"] is None
    assert out["notes"] == {"ppl_seed_mean": "undefined under seed(s) 3"}
    assert "nll_seed_mean" not in out and out["seeds"] == {"0": {"ppl": 4.0}, "3": {"ppl": None}}  # undefined everywhere: left out


def test_one_seed_is_not_a_spread() -> None:
    with pytest.raises(ValueError, match="at least two seeds"):
        across_seeds({0: {"fid": 1.0}}, ["fid"])


def test_the_headline_metrics_are_the_leaderboards_ranked_columns() -> None:
    keys = headline_keys()
    specs = key_specs()
    assert {"fid", "kid", "is", "precision", "recall", "nll_bits_per_dim", "anomaly_auroc"} <= set(keys)
    assert all(specs[k].column and specs[k].better for k in keys)
    assert "fid_ci_low" not in keys and "anomaly_auroc_holdout_class" not in keys and "train_seconds" not in keys


def test_equal_values_have_exactly_zero_spread() -> None:
    out = across_seeds({0: {"class_coverage": 0.1}, 1: {"class_coverage": 0.1}, 2: {"class_coverage": 0.1}}, ["class_coverage"])
    assert out["class_coverage_seed_mean"] == 0.1 and out["class_coverage_seed_sd"] == 0.0


def test_each_seeds_fid_is_written_and_read_back_first_seed_first() -> None:
    """What evaluate writes (across_seeds, through JSON) is what the report's comparisons read."""
    per_seed = {3: {"fid": 0.76, "is": 8.0}, 0: {"fid": 0.37, "is": 8.1}, 5: {"fid": 0.94, "is": None}}
    written = json.loads(json.dumps({"fid": 0.76, **across_seeds(per_seed, headline_keys())}))
    assert per_seed_values(written, "fid") == [0.76, 0.37, 0.94]
    assert per_seed_values(written, "is") is None  # undefined under seed 5
    assert per_seed_values({"fid": 0.76}, "fid") is None  # one seed: no per-seed values
