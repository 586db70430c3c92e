"""docs/design.md stays true to the code: its stages, files and metric columns are the ones the
pipeline has, and the repository refers to it rather than to a design file outside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from genmodels.metrics.registry import key_specs
from pipelines import paths

ROOT = Path(__file__).parents[1]
DOC = (ROOT / "docs" / "design.md").read_text()


def test_every_stage_of_dvc_yaml_is_described() -> None:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        shown = f"`{name}@<m>`" if "foreach" in stage else f"`{name}`"
        assert shown in DOC, f"docs/design.md does not describe stage {shown}"


@pytest.mark.parametrize(
    "path",
    [
        str(paths.PARAMS_RESOLVED), str(paths.CARD.name), paths.TRAIN.name, paths.VAL.name, paths.TEST.name,
        str(paths.EVALUATOR), paths.REFERENCE.name, paths.HISTORY_FILE, paths.RUN_FILE,
        str(paths.samples_file("<m>")), str(paths.samples_png("<m>")), str(paths.metrics_file("<m>")), str(paths.resamples_file("<m>")),
        paths.CURVES_FILE, paths.INTERPOLATION_PNG, paths.NEIGHBOURS_PNG,
        *(str(paths.metrics_file(row)) for row in paths.REFERENCE_ROWS),
        str(paths.LEADERBOARD_CSV), str(paths.LEADERBOARD_MD), str(paths.INDEX_HTML),
    ],
)  # fmt: skip
def test_every_file_the_pipeline_writes_is_named(path: str) -> None:
    assert path in DOC, f"docs/design.md does not name {path}"


def test_every_leaderboard_column_key_is_named() -> None:
    missing = [k for k, spec in key_specs().items() if spec.column and f"`{k}`" not in DOC]
    assert not missing, f"docs/design.md does not name the metric key(s) {missing}"


def test_the_benchmark_columns_match_the_results_file() -> None:
    header = (ROOT / "benchmarks" / "results.csv").read_text().splitlines()[0]
    assert f"`{header}`" in DOC


def test_the_repository_refers_to_docs_design_md_only() -> None:
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    stale = []
    for name in files:
        path = ROOT / name
        if path.suffix not in (".py", ".md", ".yaml", ".yml") and path.name != "Makefile" or not path.is_file():
            continue
        for i, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if re.search(r"DESIGN(\.md| says)", line):
                stale.append(f"{name}:{i}")
    assert not stale, f"references to a design file outside the repository (use docs/design.md): {stale}"
