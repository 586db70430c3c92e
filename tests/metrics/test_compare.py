"""genmodels.metrics.compare on hand-built metrics dicts: each verdict, the interval rules, what
is not compared, the evaluator card's Wilson interval, the text and JSON forms."""

from __future__ import annotations

import json
import math

import pytest

from genmodels.metrics.compare import (
    IDENTICAL,
    NO_INTERVAL,
    ONLY_BASELINE,
    ONLY_RUN,
    OUTSIDE,
    WITHIN,
    Comparison,
    Row,
    as_json,
    compare_card,
    compare_model,
    compare_runs,
    companion_of,
    describe,
    identical,
    interval_of,
    is_timing,
    summary_line,
    text_lines,
    wilson_interval,
)

BASE = {
    "fid": 0.352,
    "fid_ci_low": 0.30,
    "fid_ci_high": 0.41,
    "nll_bits_per_dim": 2.0,
    "nll_bits_per_dim_stderr": 0.01,
    "ct_stat": 0.5,
    "ppl": None,
    "train_seconds": 49.0,
    "samples_per_second": 61.0,
    "notes": {"ppl": "RBM has no latent decoder"},
}


def verdicts(c: Comparison) -> dict[str, str]:
    return {r.metric: r.verdict for r in c.rows}


def rows(c: Comparison) -> dict[str, Row]:
    return {r.metric: r for r in c.rows}


def test_the_same_file_is_identical_everywhere_and_timings_and_bounds_are_apart() -> None:
    c = compare_model("rbm", BASE, dict(BASE))
    assert verdicts(c) == {"fid": IDENTICAL, "nll_bits_per_dim": IDENTICAL, "ct_stat": IDENTICAL, "ppl": IDENTICAL}
    assert [(t.metric, t.run, t.baseline) for t in c.timings] == [("train_seconds", 49.0, 49.0), ("samples_per_second", 61.0, 61.0)]
    assert c.companions == 3  # fid_ci_low, fid_ci_high, nll_bits_per_dim_stderr
    assert c.skipped == ["rbm.notes"] and c.outside == 0
    assert rows(c)["ppl"].note == "RBM has no latent decoder"


def test_identical_means_the_same_float64_bits() -> None:
    assert identical(0, 0.0) and identical(None, None) and identical(float("nan"), float("nan"))
    assert not identical(0.0, -0.0) and not identical(0.1 + 0.2, 0.3) and not identical(None, 0.0)
    assert not identical(1.0, True) and identical("a", "a")


def test_a_value_inside_the_baselines_ci_is_within_and_outside_it_outside_bounds_inclusive() -> None:
    assert verdicts(compare_model("gan", BASE, {**BASE, "fid": 0.32}))["fid"] == WITHIN
    assert verdicts(compare_model("gan", BASE, {**BASE, "fid": 0.293, "fid_ci_low": 0.2}))["fid"] == OUTSIDE  # the baseline's interval counts
    assert verdicts(compare_model("gan", BASE, {**BASE, "fid": 0.41}))["fid"] == WITHIN
    row = rows(compare_model("gan", BASE, {**BASE, "fid": 0.29}))["fid"]
    assert (row.verdict, row.run, row.baseline, row.interval, row.rule) == (OUTSIDE, 0.29, 0.352, (0.30, 0.41), "ci")


def test_a_standard_error_gives_a_band_of_two_of_them() -> None:
    assert interval_of("nll_bits_per_dim", BASE) == ((2.0 - 0.02, 2.0 + 0.02), "2 x nll_bits_per_dim_stderr")
    assert verdicts(compare_model("rbm", BASE, {**BASE, "nll_bits_per_dim": 2.019}))["nll_bits_per_dim"] == WITHIN
    assert verdicts(compare_model("rbm", BASE, {**BASE, "nll_bits_per_dim": 1.979}))["nll_bits_per_dim"] == OUTSIDE


def test_rule_order_ci_then_stderr_then_seed_sd_then_std() -> None:
    both = {"kid": 1.0, "kid_ci_low": 0.5, "kid_ci_high": 1.1, "kid_std": 10.0, "kid_stderr": 0.01}
    assert interval_of("kid", both) == ((0.5, 1.1), "ci")
    assert interval_of("kid", {k: v for k, v in both.items() if "_ci_" not in k})[1] == "2 x kid_stderr"
    assert interval_of("kid", {"kid": 1.0, "kid_std": 0.25}) == ((0.5, 1.5), "2 x kid_std")
    assert interval_of("kid", {"kid": 1.0, "kid_sd": 0.5}) == ((0.0, 2.0), "2 x kid_sd")
    seeds = {"fid_seed_mean": 3.0, "fid_seed_sd": 0.5}
    assert interval_of("fid_seed_mean", seeds) == ((2.0, 4.0), "2 x fid_seed_sd")
    assert companion_of("fid_seed_sd", set(seeds)) == "fid_seed_mean"


def test_no_usable_interval_when_bounds_or_spreads_are_null_or_not_finite() -> None:
    assert interval_of("fid", {"fid": 1.0, "fid_ci_low": None, "fid_ci_high": 2.0}) is None
    assert interval_of("fid", {"fid": 1.0, "fid_ci_low": float("nan"), "fid_ci_high": 2.0}) is None
    assert interval_of("fid", {"fid": 1.0, "fid_stderr": -1.0}) is None
    assert interval_of("fid", {"fid": None, "fid_stderr": 1.0}) is None


def test_a_differing_value_without_an_interval_is_no_interval() -> None:
    row = rows(compare_model("gan", BASE, {**BASE, "ct_stat": 0.7}))["ct_stat"]
    assert (row.verdict, row.run, row.baseline, row.interval) == (NO_INTERVAL, 0.7, 0.5, None)
    assert verdicts(compare_model("gan", {"x": "a"}, {"x": "b"}))["x"] == NO_INTERVAL


def test_a_metric_that_becomes_null_or_defined_is_outside_with_its_note() -> None:
    run = {**BASE, "fid": None, "notes": {"fid": "too few samples"}}
    row = rows(compare_model("gan", BASE, run))["fid"]
    assert (row.verdict, row.run, row.baseline, row.note) == (OUTSIDE, None, 0.352, "too few samples")
    row = rows(compare_model("gan", BASE, {**BASE, "ppl": 12.0}))["ppl"]
    assert (row.verdict, row.note) == (OUTSIDE, "RBM has no latent decoder")  # the baseline's reason


def test_keys_missing_on_either_side() -> None:
    run = {k: v for k, v in BASE.items() if k != "ct_stat"} | {"new_metric": 1.5}
    c = compare_model("gan", BASE, run)
    assert verdicts(c)["ct_stat"] == ONLY_BASELINE and verdicts(c)["new_metric"] == ONLY_RUN
    assert list(verdicts(c))[-1] == "new_metric"  # the baseline's order, new keys last
    assert rows(c)["ct_stat"].baseline == 0.5 and rows(c)["new_metric"].run == 1.5
    assert c.outside == 0


def test_nested_blocks_are_skipped_whatever_they_hold() -> None:
    base = {"fid_seed_mean": 3.0, "fid_seed_sd": 0.5, "seeds": {"0": {"fid": 2.9}, "1": {"fid": 3.1}}, "notes": {}}
    run = {"fid_seed_mean": 3.4, "fid_seed_sd": 0.4, "seeds": {"0": {"fid": 99.0}}, "notes": {"x": "y"}, "extra": [1, 2]}
    c = compare_model("vae", base, run)
    assert verdicts(c) == {"fid_seed_mean": WITHIN}
    assert sorted(c.skipped) == ["vae.extra", "vae.notes", "vae.seeds"] and c.companions == 1


@pytest.mark.parametrize(("key", "timing"), [("train_seconds", True), ("samples_per_second", True), ("eval_seconds", True),
                                              ("seconds", True), ("fid", False), ("nll_bits_per_dim", False), ("secondsish", False)])  # fmt: skip
def test_timing_keys(key: str, timing: bool) -> None:
    assert is_timing(key) is timing


def test_wilson_interval_against_its_closed_form() -> None:
    low, high = wilson_interval(0.5, 100)
    assert low == pytest.approx(0.40383153, abs=1e-8) and high == pytest.approx(0.59616847, abs=1e-8)
    low, high = wilson_interval(1.0, 359)  # never past 1, and above 0 width
    assert high == pytest.approx(1.0) and 0.98 < low < 1.0
    p, n, z = 0.983, 359, 1.959963984540054
    centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert wilson_interval(p, n) == pytest.approx((centre - half, centre + half))
    with pytest.raises(ValueError, match="proportion"):
        wilson_interval(1.2, 10)
    with pytest.raises(ValueError, match="n >= 1"):
        wilson_interval(0.5, 0)


def test_the_evaluator_card_by_the_wilson_interval_on_its_test_size() -> None:
    base = {"test_accuracy": 0.983, "test_size": 359, "extractor": "classifier"}
    assert compare_card(base, {**base, "test_accuracy": 0.975}).verdict == WITHIN
    row = compare_card(base, {**base, "test_accuracy": 0.90})
    assert (row.model, row.metric, row.verdict, row.rule) == ("evaluator", "test_accuracy", OUTSIDE, "wilson")
    assert compare_card(base, dict(base)).verdict == IDENTICAL
    assert compare_card({"test_accuracy": 0.983}, {"test_accuracy": 0.975}).verdict == NO_INTERVAL  # no test_size
    assert compare_card(base, {"extractor": "classifier"}).verdict == ONLY_BASELINE


def test_compare_runs_notes_models_and_cards_on_one_side_only() -> None:
    c = compare_runs({"gan": BASE, "vae": BASE}, {"gan": BASE, "flow": BASE}, {"test_accuracy": 0.9, "test_size": 10}, None)
    assert {r.model for r in c.rows} == {"gan"}
    assert c.notes == ["flow: only in run (not compared)", "vae: only in baseline (not compared)", "evaluator card: only in baseline (not compared)"]
    c = compare_runs({"gan": BASE}, {"gan": BASE}, {"test_accuracy": 0.9, "test_size": 10}, {"test_accuracy": 0.9, "test_size": 10})
    assert c.rows[-1].model == "evaluator" and c.rows[-1].verdict == IDENTICAL


def test_the_text_shows_values_interval_and_counts() -> None:
    c = compare_runs({"gan": BASE}, {"gan": {**BASE, "fid": 0.29, "ct_stat": 0.7, "train_seconds": 51.0}})
    line = describe(rows(c)["fid"])
    assert line.split()[:3] == ["gan", "fid", "outside"] and "0.29 (baseline 0.352, interval [0.3, 0.41] by ci)" in line
    assert describe(rows(c)["ppl"]).endswith("identical        [RBM has no latent decoder]")
    text = text_lines(c)
    assert "timings, not compared:" in text and any("train_seconds" in t and "51 (baseline 49)" in t for t in text)
    assert text[-1] == summary_line(c) == (
        "summary: 2 identical, 0 within, 1 outside, 1 no interval, 0 only in run, 0 only in baseline;"
        " not compared: 2 timings, 3 uncertainty keys, 1 nested blocks"
    )


def test_the_json_form_is_plain_json_with_counts() -> None:
    c = compare_runs({"gan": BASE}, {"gan": {**BASE, "fid": 0.35}})
    out = json.loads(json.dumps(as_json(c)))
    assert out["counts"][WITHIN] == 1 and out["outside"] == 0 and out["skipped"] == ["gan.notes"]
    fid = next(r for r in out["rows"] if r["metric"] == "fid")
    assert fid == {"model": "gan", "metric": "fid", "verdict": WITHIN, "run": 0.35, "baseline": 0.352,
                   "interval": [0.30, 0.41], "rule": "ci", "note": None}  # fmt: skip
    assert out["timings"][0] == {"model": "gan", "metric": "train_seconds", "run": 49.0, "baseline": 49.0}
