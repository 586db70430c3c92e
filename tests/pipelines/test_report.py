"""The leaderboard: mean ± sd across seeds where a row has several, the held-out-class column when asked."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from genmodels.metrics.registry import metric_keys
from pipelines import paths, report


def write_metrics(root: Path, name: str, **values: object) -> None:
    path = root / paths.metrics_file(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**dict.fromkeys(metric_keys()), **values, "notes": {}}))


def board(tmp_path: Path, evaluate: dict) -> tuple[str, list[str]]:
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"models": {"a": "gmm", "b": "gmm"}, "evaluate": evaluate}))
    seeds = {"0": {"fid": 1.0}, "1": {"fid": 2.0}}
    write_metrics(tmp_path, "a", fid=1.0, fid_ci_low=0.5, fid_ci_high=1.5, fid_seed_mean=1.5, fid_seed_sd=0.7071, seeds=seeds,
                  anomaly_auroc_holdout_class=0.75)  # fmt: skip
    write_metrics(tmp_path, "b", fid=3.0, fid_ci_low=2.5, fid_ci_high=3.5)
    for row in paths.REFERENCE_ROWS:
        write_metrics(tmp_path, row, fid=0.1)
    report.run(tmp_path)
    return (tmp_path / paths.LEADERBOARD_MD).read_text(), (tmp_path / paths.LEADERBOARD_CSV).read_text().splitlines()


def test_several_seeds_show_mean_and_sd_one_seed_its_interval(tmp_path: Path) -> None:
    md, csv = board(tmp_path, {})
    a, b = (line.split(" | ") for line in md.splitlines()[2:4])
    fid = md.splitlines()[0].split(" | ").index("fid")
    assert a[fid] == "1.5 ± 0.7071" and b[fid] == "3 [2.5, 3.5]"
    assert "a ± b = mean ± sd over 2 training seeds" in md
    assert "anomaly_auroc_holdout_class" not in md  # not asked for
    header = csv[0].split(",")
    assert header[-3:] == ["seeds", "fid_seed_mean", "fid_seed_sd"]  # after the first seed's plain columns
    assert csv[1].split(",")[-3:] == ["2", "1.5", "0.7071"] and csv[2].split(",")[-3:] == ["", "", ""]


def test_the_holdout_class_column_appears_when_params_ask(tmp_path: Path) -> None:
    md, _ = board(tmp_path, {"holdout_class": 0})
    header = md.splitlines()[0].split(" | ")
    assert "anomaly_auroc_holdout_class" in header
    assert md.splitlines()[2].split(" | ")[header.index("anomaly_auroc_holdout_class")] == "0.75"
    assert "anomaly_auroc_holdout_class: the held-out class's test images" in md
    assert "anomaly_auroc_holdout_class" in md.split("Higher is better: ")[1].split(".")[0]


def test_a_single_seed_board_has_no_seed_columns(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"models": {"b": "gmm"}}))
    for name in ("b", *paths.REFERENCE_ROWS):
        write_metrics(tmp_path, name, fid=1.0)
    report.run(tmp_path)
    assert "seed" not in (tmp_path / paths.LEADERBOARD_CSV).read_text() and "±" not in (tmp_path / paths.LEADERBOARD_MD).read_text()
