"""The restoration stages on the tiny project: restore@<model> (its results file), evaluate@<model>
writing the restoration keys into metrics/<model>.json, restore_reference (metrics/ref-<method>.json),
and the report's restoration table (markdown, CSV, HTML with the pictures)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from genmodels.errors import ConfigError
from genmodels.metrics.registry import NEEDS, key_specs
from genmodels.restoration.names import metric_keys
from pipelines import evaluate, paths, report, restore, restore_reference
from tests.tiny_pipeline import tiny_project

TASKS = ["denoise-0.2", "inpaint-half", "superres-2"]


@pytest.fixture(scope="module")
def restored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tiny project (gmm, vae) with restore@gmm, restore@vae, evaluate@gmm (after its
    restore; vae's metrics predate its restore), two reference rows and the report run."""
    root = tmp_path_factory.mktemp("restore") / "project"
    shutil.copytree(tiny_project(), root)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["restore"] = {"n_images": 16, "tasks": TASKS, "latent_steps": 5, "pictures": 4}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    for name in ("gmm", "vae"):
        restore.run(root, name)
    evaluate.run(root, "gmm")
    restore_reference.run(root, ["ref-tv", "ref-nearest-train"])
    report.run(root)
    return root


def test_a_model_row_has_every_key_and_undefined_tasks_say_why(restored: Path) -> None:
    m = json.loads((restored / paths.restore_results_file("gmm")).read_text())
    assert {k for t in TASKS for k in metric_keys(t)} <= set(m) and m["restore_images"] == 16
    assert all(m[k] is not None for t in TASKS for k in metric_keys(t))
    assert m["tasks"]["denoise_0.2"]["exact"] is True and m["tasks"]["denoise_0.2"]["seconds"] >= 0
    assert m["denoise_0.2_psnr_ci_low"] <= m["denoise_0.2_psnr"] <= m["denoise_0.2_psnr_ci_high"]
    assert not (restored / "metrics" / "restore").exists()
    arrays = np.load(restored / paths.restorations_file("gmm"))
    assert arrays["denoise-0.2/mean"].shape == (16, 1, 8, 8) and len(arrays["index"]) == 16
    assert sorted(p.name for p in (restored / paths.restore_figures_dir("gmm")).glob("*.png")) == sorted(f"{t}.png" for t in TASKS)


def test_evaluate_writes_the_restoration_keys_into_the_models_metrics(restored: Path) -> None:
    results = json.loads((restored / paths.restore_results_file("gmm")).read_text())
    m = json.loads((restored / paths.metrics_file("gmm")).read_text())
    assert all(m[k] == results[k] for t in TASKS for k in metric_keys(t)) and m["restore_images"] == 16
    assert m["denoise_0.5_psnr"] is None and m["notes"]["denoise_0.5_psnr"] == "not among restore.tasks"
    assert m["fid"] is not None  # the other metrics as before
    vae = json.loads((restored / paths.metrics_file("vae")).read_text())  # evaluated before restore@vae ran
    assert vae["denoise_0.2_psnr"] is None and vae["notes"]["denoise_0.2_psnr"] == NEEDS["restoration"]


def test_a_reference_row_is_null_outside_its_tasks(restored: Path) -> None:
    tv = json.loads((restored / paths.metrics_file("ref-tv")).read_text())
    assert set(key_specs()) <= set(tv) and tv["fid"] is None and "no model or samples" in tv["notes"]["fid"]
    assert tv["denoise_0.2_psnr"] is not None
    assert tv["inpaint_half_psnr"] is None and "noise method" in tv["notes"]["inpaint_half_psnr"]
    assert "weight" in json.loads((restored / paths.restore_results_file("ref-tv")).read_text())["parameters"]["denoise_0.2"]
    near = json.loads((restored / paths.metrics_file("ref-nearest-train")).read_text())
    assert all(near[f"{k}_psnr"] is not None for k in ("denoise_0.2", "inpaint_half", "superres_x2"))


def test_the_report_shows_the_restoration_table(restored: Path) -> None:
    md = (restored / paths.LEADERBOARD_MD).read_text()
    section = md[md.index("## Restoration") :]
    assert "| gmm | gmm |" in section and "| ref-tv | (reference) |" in section and "inpaint_half_fid" in section
    assert "— [1]" in section and "ref-tv is a noise method" in section and "of 16 test images" in section
    assert "| vae |" not in section  # its metrics predate restore@vae
    assert "| ref-tv |" not in md[: md.index("## Restoration")]  # the restoration rows stay in their table
    rows = (restored / paths.RESTORATION_CSV).read_text().splitlines()
    assert rows[0].startswith("model,family,denoise_0.2_psnr,denoise_0.2_psnr_ci_low") and len(rows) == 4
    page = (restored / paths.INDEX_HTML).read_text()
    assert "id='restoration'" in page and "gmm: inpaint-half" in page


def test_an_unknown_reference_row_is_one_line(restored: Path) -> None:
    with pytest.raises(ConfigError, match="restoration reference 'ref-blur': unknown"):
        restore_reference.run(restored, ["ref-tv", "ref-blur"])


def test_data_that_are_not_images_give_null_keys_with_the_reason(restored: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "project"
    shutil.copytree(restored, root)
    reason = "restoration tasks are defined on images; toy2d is points data"
    monkeypatch.setattr(restore, "not_images", lambda r: reason)
    monkeypatch.setattr(restore_reference, "not_images", lambda r: reason)
    m = restore.run(root, "gmm")
    assert all(m[k] is None and m["notes"][k] == reason for t in TASKS for k in metric_keys(t))
    assert not list((root / paths.restore_figures_dir("gmm")).glob("*.png"))
    assert restore_reference.run(root, ["ref-tv"])["ref-tv"]["notes"]["denoise_0.2_psnr"] == reason
    assert json.loads((root / paths.metrics_file("ref-tv")).read_text())["notes"]["denoise_0.2_psnr"] == reason
