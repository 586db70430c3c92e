"""The CLI's help texts name the files each stage writes, as :mod:`pipelines.paths` names them."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from pipelines import paths
from pipelines.cli import app

#: command -> the outputs its help must name (the stage's outputs in dvc.yaml)
WRITES: dict[str, list[str]] = {
    "check": [str(paths.PARAMS_RESOLVED)],
    "prepare": [str(paths.PREPARED / "{train,val,test}.parquet"), paths.CARD.name],
    "sample": [str(paths.samples_file("<model>")), str(paths.samples_png("<model>")), f"{paths.figures_dir('<model>')}/"],
    "evaluate": [str(paths.metrics_file("<model>")), str(paths.resamples_file("<model>"))],
    "reference": [str(paths.metrics_file(row)) for row in paths.REFERENCE_ROWS],
    "restore": [str(paths.restore_results_file("<model>")), str(paths.restorations_file("<model>")), f"{paths.restore_figures_dir('<model>')}/"],
    "restore-reference": [str(paths.metrics_file("<row>")), str(paths.restore_results_file("<row>")), str(paths.restorations_file("<row>")),
                          f"{paths.restore_figures_dir('<row>')}/"],
    "report": [str(paths.REPORTS / "leaderboard.{csv,md}"), str(paths.INDEX_HTML)],
}


def help_text(command: str) -> str:
    out = CliRunner().invoke(app, [command, "--help"], terminal_width=1000)
    assert out.exit_code == 0, out.output
    return re.sub(r"[\s│]+", " ", out.output)  # rich's box and line wrapping out of the way


@pytest.mark.parametrize("command", sorted(WRITES))
def test_help_names_the_files_the_command_writes(command: str) -> None:
    text = help_text(command)
    missing = [path for path in WRITES[command] if path not in text]
    assert not missing, f"`genmodels {command} --help` does not name {missing}: {text}"


def test_prepared_split_names_match_the_paths() -> None:
    assert {paths.TRAIN.name, paths.VAL.name, paths.TEST.name} == {f"{s}.parquet" for s in ("train", "val", "test")}
