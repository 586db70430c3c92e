"""The restoration metric: its keys come from genmodels.restoration.names, and evaluate copies a
row's restoration results into metrics/<model>.json (null with the reason where absent)."""

from __future__ import annotations

from genmodels.metrics.builtin.restoration import NOT_RUN, restoration_entries
from genmodels.metrics.registry import NEEDS, key_specs, metric_of_key, tune_objectives
from genmodels.metrics.suite import run_metrics
from genmodels.restoration.names import DEFAULT_TASKS, metric_keys
from tests.metrics.test_registry import inputs


def test_the_keys_are_every_default_tasks_keys_with_their_direction() -> None:
    specs = key_specs()
    expected = {k for t in DEFAULT_TASKS for k in metric_keys(t)}
    assert {k for k in specs if metric_of_key(k).name == "restoration"} == expected
    assert specs["denoise_0.5_psnr"].better == "higher" and specs["superres_x4_ssim"].better == "higher"
    assert specs["inpaint_half_accuracy"].better == "higher" and specs["inpaint_square_fid"].better == "lower"
    assert specs["denoise_0.2_psnr_ci_low"].better is None and "inpaint_half_fid_ci_low" not in specs
    assert not any(specs[k].column for k in expected) and not expected & set(tune_objectives())


def test_evaluate_copies_the_results_and_says_why_a_key_is_null() -> None:
    results = {"denoise_0.2_psnr": 21.5, "denoise_0.2_psnr_ci_low": 20.0, "denoise_0.2_psnr_ci_high": 23.0,
               "superres_x2_psnr": None, "denoise_0.3_psnr": 19.0, "restore_seconds": 1.5, "restore_images": 16,
               "family": "gmm", "tasks": {"denoise_0.2": {"method": "exact"}},
               "notes": {"superres_x2_psnr": "bayesnet cannot pool"}}  # fmt: skip
    out = run_metrics(inputs(restoration=results)).as_json()
    assert out["denoise_0.2_psnr"] == 21.5 and out["denoise_0.2_psnr_ci_high"] == 23.0
    assert out["superres_x2_psnr"] is None and out["notes"]["superres_x2_psnr"] == "bayesnet cannot pool"
    assert out["inpaint_half_psnr"] is None and out["notes"]["inpaint_half_psnr"] == NOT_RUN
    assert out["denoise_0.3_psnr"] == 19.0 and out["restore_seconds"] == 1.5  # supporting numbers beside the keys
    assert "tasks" not in out and "family" not in out


def test_without_results_every_key_is_null_with_the_reason() -> None:
    out = run_metrics(inputs()).as_json()
    assert out["denoise_0.2_psnr"] is None and out["notes"]["denoise_0.2_psnr"] == NEEDS["restoration"]
    assert "restore_seconds" not in out


def test_the_entries_hold_every_key_even_from_an_empty_result() -> None:
    entries = restoration_entries({})
    assert {k for t in DEFAULT_TASKS for k in metric_keys(t)} <= set(entries) and set(entries["notes"].values()) == {NOT_RUN}
