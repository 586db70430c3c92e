"""The leaderboard: mean ± sd across seeds where a row has several, the held-out-class column when asked,
fid groups that say which variance they include (one, two and three training seeds)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from genmodels.errors import DataError
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
    assert header[-4:] == ["fid_group_variance", "seeds", "fid_seed_mean", "fid_seed_sd"]  # after the first seed's plain columns
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


# Which variance the fid groups include, by the number of training seeds.

FIRST = {"gan": 0.29, "gmm": 0.64, "vae": 0.37}  # first seeds: vae ahead of gmm
SPREAD = {"gan": [0.25, 0.28, 0.27], "gmm": [0.57, 0.62, 0.66], "vae": [0.76, 0.94, 0.52]}  # the further seeds: vae behind


def seeded_board(tmp_path: Path, n_seeds: int) -> tuple[str, list[dict], str]:
    """Three models with tight, shared-resample bootstraps of their first seeds and ``n_seeds`` seeds each."""
    import csv

    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"models": dict.fromkeys(FIRST, "gmm")}))
    rng = np.random.default_rng(0)
    shared = rng.normal(0.0, 0.01, 200)
    for name, fid in FIRST.items():
        values = [fid, *SPREAD[name]][:n_seeds]
        seeds = {"seeds": {str(s): {"fid": v} for s, v in enumerate(values)}, "fid_seed_mean": float(np.mean(values)),
                 "fid_seed_sd": float(np.std(values, ddof=1))} if n_seeds > 1 else {}  # fmt: skip
        write_metrics(tmp_path, name, fid=fid, **seeds)
        path = tmp_path / paths.resamples_file(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, fid_resamples=fid + shared + rng.normal(0.0, 0.01, 200))
    for row in paths.REFERENCE_ROWS:
        write_metrics(tmp_path, row, fid=0.1)
    report.run(tmp_path)
    table = list(csv.DictReader((tmp_path / paths.LEADERBOARD_CSV).read_text().splitlines()))
    return (tmp_path / paths.LEADERBOARD_MD).read_text(), table, (tmp_path / paths.INDEX_HTML).read_text()


def groups_line(md: str) -> str:
    return next(line for line in md.splitlines() if line.startswith("fid groups"))


def test_one_seed_groups_say_they_cover_sample_noise_only(tmp_path: Path) -> None:
    md, table, page = seeded_board(tmp_path, 1)
    line = groups_line(md)
    assert line.startswith("fid groups (paired bootstrap on shared resamples, 95 %): {gan} > {vae} > {gmm}.")
    assert "cover sample noise only" in line and "not training-seed variance: one training seed per model" in line
    assert {r["model"]: (r["fid_group"], r["fid_group_variance"]) for r in table} == {
        "gan": ("1", "bootstrap"), "vae": ("2", "bootstrap"), "gmm": ("3", "bootstrap"), "ref-holdout": ("", ""), "ref-train-copy": ("", "")}
    assert html.escape(line) in page


def test_three_seeds_group_by_seed_means_with_the_between_seed_spread(tmp_path: Path) -> None:
    md, table, page = seeded_board(tmp_path, 3)
    line = groups_line(md)
    # vae's seeds spread from 0.37 to 0.94: its seed mean is behind gmm's and the data cannot separate them
    assert line.startswith("fid groups (means over 3 training seeds; paired bootstrap on shared resamples + between-seed spread, 95 %): "
                           "{gan} > {gmm, vae}.")  # fmt: skip
    assert "include training-seed variance" in line and "over 3 training seeds" in line
    assert {r["model"]: (r["fid_group"], r["fid_group_variance"]) for r in table[:3]} == {
        "gan": ("1", "bootstrap + 3 seeds"), "gmm": ("2", "bootstrap + 3 seeds"), "vae": ("2", "bootstrap + 3 seeds")}
    assert html.escape(line) in page
    assert "the line on the fid groups says whether they include the seeds' spread" in md


def test_two_seeds_group_like_one_seed_and_say_why(tmp_path: Path) -> None:
    md, table, _ = seeded_board(tmp_path, 2)
    line = groups_line(md)
    assert line.startswith("fid groups (first seeds; paired bootstrap on shared resamples, 95 %): {gan} > {vae} > {gmm}.")
    assert "not training-seed variance: gan, gmm, vae have fewer than 3 training seeds" in line
    assert "one degree of freedom (one-sided 95 % t quantile 6.3" in line
    assert {r["fid_group_variance"] for r in table[:3]} == {"bootstrap (first seed of 2)"}
    assert "a ± b = mean ± sd over 2 training seeds" in md


def test_a_first_seed_that_is_not_the_rows_value_stops_the_report(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"models": {"a": "gmm"}}))
    write_metrics(tmp_path, "a", fid=1.0, seeds={"0": {"fid": 1.5}, "1": {"fid": 2.0}, "2": {"fid": 2.5}})
    for row in paths.REFERENCE_ROWS:
        write_metrics(tmp_path, row, fid=0.1)
    with pytest.raises(DataError, match=r"fid under the first seed \(1.5\) != fid \(1.0\)"):
        report.run(tmp_path)
