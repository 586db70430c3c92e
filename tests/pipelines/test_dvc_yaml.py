"""dvc.yaml and pipelines/paths.py name the same files; each stage lists the params it reads."""

from __future__ import annotations

from pathlib import Path

import yaml

from pipelines import paths

ROOT = Path(__file__).parents[2]
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def outs(stage: dict) -> list[str]:
    items = stage.get("outs", []) + stage.get("metrics", [])
    return [next(iter(o)) if isinstance(o, dict) else o for o in items]


def test_output_paths_match_the_contract() -> None:
    m = "${item}"
    assert outs(STAGES["prepare"]) == [str(paths.PREPARED)]
    assert outs(STAGES["evaluator"]) == [str(paths.EVALUATOR)]
    assert outs(STAGES["train"]["do"]) == [str(paths.model_dir(m))]
    assert outs(STAGES["sample"]["do"]) == [str(paths.samples_file(m)), str(paths.samples_png(m))]
    assert outs(STAGES["evaluate"]["do"]) == [str(paths.metrics_file(m))]
    assert outs(STAGES["report"]) == [str(paths.LEADERBOARD_CSV), str(paths.LEADERBOARD_MD)]


def test_stages_declare_exactly_their_params() -> None:
    assert STAGES["prepare"]["params"] == ["seed", "data"]
    assert STAGES["evaluator"]["params"] == ["seed", "evaluator"]
    assert STAGES["train"]["do"]["params"] == ["seed", "scaling", "${item}"]
    assert STAGES["sample"]["do"]["params"] == ["seed", "sample"]
    assert STAGES["evaluate"]["do"]["params"] == ["seed", "evaluate"]
    for name in ("train", "sample", "evaluate"):
        assert STAGES[name]["foreach"] == "${models}"
