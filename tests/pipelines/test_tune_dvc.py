"""searches/dvc.yaml runs searches as stages of their own, apart from the default pipeline."""

from __future__ import annotations

from pathlib import Path

import yaml

from pipelines import paths
from pipelines.tune import params_fragment, report_json

ROOT = Path(__file__).parents[2]
SEARCHES = yaml.safe_load((ROOT / "searches/dvc.yaml").read_text())


def test_search_stage_writes_the_tune_outputs() -> None:
    stage = SEARCHES["stages"]["tune"]["do"]
    assert stage["wdir"] == ".." and stage["cmd"] == "genmodels tune --model ${item} --resume"
    outs = [next(iter(o)) for o in stage["outs"]]
    assert outs == [str(report_json("${item}")), str(params_fragment("${item}"))]
    assert {str(paths.PREPARED), str(paths.EVALUATOR), "pipelines/tune.py", "genmodels"} <= set(stage["deps"])
    declared = stage["params"][0][str(paths.PARAMS_RESOLVED)]
    assert {"tune", "${item}", "seed", "evaluate"} <= set(declared)
    assert SEARCHES["vars"][0]["searches"], "no model is searched"


def test_default_pipeline_has_no_search() -> None:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert not [name for name in stages if "tune" in name]
    assert not [s for s in stages.values() if "genmodels tune" in str(s)]
