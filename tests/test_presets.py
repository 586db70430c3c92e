"""Presets (docs/presets.md): each presets/<name>/dvc.yaml is the project's dvc.yaml with the code
deps made relative to the folder, kept in sync by presets/generate.py; each preset records into
the project's MLflow store under its own experiment; ``make repro PRESET=<name>`` runs it.

DVC itself on a preset: tests/integration/test_presets_dvc.py.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from genmodels.config import load_params
from genmodels.tracking.mlflow_adapter import artifact_location, in_temporary_workspace, store_root, tracking_uri

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("presets_generate", ROOT / "presets" / "generate.py")
generate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generate)
PRESETS = generate.presets()


def test_mnist5k_is_a_preset() -> None:
    assert ROOT / "presets" / "mnist5k" in PRESETS
    assert not list(ROOT.glob("params/*.yaml"))  # whole params files live in their preset folders


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.name)
def test_the_committed_preset_pipeline_is_the_generated_one(preset: Path) -> None:
    assert (preset / "dvc.yaml").read_text() == generate.preset_text(preset), "run `make presets` (python presets/generate.py)"


def test_generate_check_reports_a_stale_preset(tmp_path: Path) -> None:
    assert generate.main(["--check"]) == 0
    project = tmp_path / "project"
    (project / "presets" / "p").mkdir(parents=True)
    (project / "dvc.yaml").write_text((ROOT / "dvc.yaml").read_text())
    (project / "presets" / "p" / "params.yaml").write_text("experiment: p\n")
    check = ["--check", "--root", str(project)]
    assert generate.main(check) == 1 and not (project / "presets/p/dvc.yaml").exists()
    assert generate.main(["--root", str(project)]) == 0 and generate.main(check) == 0
    assert (project / "presets/p/dvc.yaml").read_text() == generate.preset_text(ROOT / "presets" / "mnist5k")
    (project / "dvc.yaml").write_text((ROOT / "dvc.yaml").read_text().replace("cmd: genmodels report", "cmd: genmodels report --params params.yaml"))
    assert generate.main(check) == 1  # an edit of the root pipeline makes the preset stale


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.name)
def test_a_preset_runs_the_root_stages_with_the_projects_code(preset: Path) -> None:
    root = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    mine = yaml.safe_load((preset / "dvc.yaml").read_text())["stages"]
    assert list(mine) == list(root)
    moved = 0
    for name, stage in root.items():
        body, other = stage.get("do", stage), mine[name].get("do", mine[name])
        assert "wdir" not in other  # the stages run in the preset folder
        assert {k: v for k, v in other.items() if k != "deps"} == {k: v for k, v in body.items() if k != "deps"}, name
        for dep, theirs in zip(body["deps"], other["deps"], strict=True):
            if dep.split("/")[0] in ("pipelines", "genmodels"):
                assert theirs == f"../../{dep}" and (preset / theirs.replace("${item}", "vae")).exists(), (name, theirs)
                moved += 1
            else:
                assert theirs == dep, (name, dep)  # data, models, params.yaml: the preset's own
    assert moved > 50


def test_a_code_dep_the_rewrite_cannot_see_stops_the_generator() -> None:
    flow = "stages:\n  s:\n    cmd: genmodels check\n    deps: [params.yaml, pipelines/check.py]\n"
    with pytest.raises(ValueError, match="cannot rewrite"):
        generate.render(flow)
    with pytest.raises(ValueError, match="wdir"):
        generate.render("stages:\n  s:\n    cmd: genmodels check\n    wdir: ..\n    deps:\n      - genmodels\n")
    block = "stages:\n  s:\n    cmd: genmodels check\n    deps:\n      - params.yaml\n      - pipelines/check.py  # x\n      - genmodelsx\n"
    assert yaml.safe_load(generate.render(block))["stages"]["s"]["deps"] == ["params.yaml", "../../pipelines/check.py", "genmodelsx"]


def test_each_preset_has_its_own_mlflow_experiment() -> None:
    names = [load_params(ROOT / "params.yaml").experiment] + [load_params(p / "params.yaml").experiment for p in PRESETS]
    assert len(set(names)) == len(names), names


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("MLFLOW_TRACKING_URI", "DVC_ROOT"):
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "project"
    for d in (".dvc", "presets/m", ".dvc/tmp/exps/tmpq/.dvc", ".dvc/tmp/exps/tmpq/presets/m"):
        (root / d).mkdir(parents=True)
    for d in (root, root / ".dvc/tmp/exps/tmpq"):
        (d / "dvc.yaml").write_text("stages: {}\n")
    return root


def test_a_preset_records_into_the_projects_store(project: Path) -> None:
    preset = project / "presets" / "m"
    assert store_root(preset) == project.resolve() and not in_temporary_workspace(preset)
    assert tracking_uri(preset) == f"sqlite:///{project.resolve() / 'mlflow.db'}"
    assert artifact_location(preset) == (project / "mlartifacts").resolve().as_uri()


def test_a_preset_in_an_experiments_workspace_records_into_the_repositorys_store(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    preset = project / ".dvc/tmp/exps/tmpq/presets/m"
    assert store_root(preset) == project.resolve() and in_temporary_workspace(preset)  # found by the path
    monkeypatch.setenv("DVC_ROOT", str(project))
    assert store_root(preset) == project.resolve() and in_temporary_workspace(preset)


def test_a_folder_named_presets_without_a_pipeline_beside_it_keeps_its_own_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DVC_ROOT", raising=False)
    lone = tmp_path / "presets" / "m"
    lone.mkdir(parents=True)
    assert store_root(lone) == lone.resolve()


def make_n(*args: str) -> subprocess.CompletedProcess:
    """``make -n repro ARGS`` as a user types it, also when the suite itself runs under make
    (``make test``: the inherited MAKELEVEL/MAKEFLAGS would add "Entering directory" lines)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES")}
    return subprocess.run(["make", "-n", "repro", *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False, env=env)


def test_make_repro_runs_the_chosen_presets_pipeline() -> None:
    default, digits, mnist = make_n(), make_n("PRESET=digits"), make_n("PRESET=mnist5k")
    assert default.returncode == digits.returncode == mnist.returncode == 0, default.stderr + mnist.stderr
    assert default.stdout.splitlines()[-1] == digits.stdout.splitlines()[-1] == "dvc repro"
    assert mnist.stdout.splitlines()[-2:] == ["python presets/generate.py --check", "dvc repro presets/mnist5k/dvc.yaml"]
    wrong = make_n("PRESET=mnist")
    assert wrong.returncode != 0 and "no preset 'mnist'; the presets are: digits mnist5k" in wrong.stderr
