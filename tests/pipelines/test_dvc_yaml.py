"""dvc.yaml is exact: every stage declares its script, the library code it imports and its
params (from the resolved params file), and a model's stages depend on its family alone."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from pipelines import paths

ROOT = Path(__file__).parents[2]
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
PER_MODEL = ("train", "sample", "evaluate", "restore")
FAMILIES = sorted(p.name for p in (ROOT / "genmodels/models").iterdir() if (p / "__init__.py").is_file() and p.name != "core")


def body(name: str) -> dict:
    return STAGES[name]["do"] if "do" in STAGES[name] else STAGES[name]


def outs(stage: dict) -> list[str]:
    items = stage.get("outs", []) + stage.get("metrics", []) + stage.get("plots", [])
    return [next(iter(o)) if isinstance(o, dict) else o for o in items]


def imported(path: Path, package: str) -> set[str]:
    """Every ``<package>.*`` module a file imports, at top level or inside functions
    (``from <package> import m`` counts as ``<package>.m``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == package:
            found |= {f"{package}.{a.name}" for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(f"{package}."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith(f"{package}.")}
    return found


def stage_code(script: Path) -> list[Path]:
    """The stage script and every ``pipelines`` module it runs, transitively (glue modules import each other)."""
    seen, todo = {script}, [script]
    while todo:
        for module in imported(todo.pop(), "pipelines"):
            path = ROOT / module_path(module)
            if path not in seen:
                seen.add(path)
                todo.append(path)
    return sorted(seen)


def module_path(module: str) -> str:
    rel = Path(*module.split("."))
    return str(rel / "__init__.py") if (ROOT / rel).is_dir() else f"{rel}.py"


def covered(path: str, deps: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in deps)


def test_output_paths_match_the_contract() -> None:
    m = "${key}"
    assert outs(STAGES["check"]) == [str(paths.PARAMS_RESOLVED)]
    assert outs(STAGES["prepare"]) == [str(paths.PREPARED)]
    assert outs(STAGES["evaluator"]) == [str(paths.EVALUATOR)]
    assert outs(body("train")) == [str(paths.model_dir(m))]
    assert outs(body("sample")) == [str(paths.samples_file(m)), str(paths.samples_png(m)), str(paths.figures_dir(m))]
    assert outs(body("evaluate")) == [str(paths.resamples_file(m)), str(paths.metrics_file(m))]
    rows = paths.REFERENCE_ROWS
    assert outs(STAGES["reference"]) == [*map(str, map(paths.resamples_file, rows)), *map(str, map(paths.metrics_file, rows))]
    assert outs(body("restore")) == [str(paths.restore_results_file(m)), str(paths.restorations_file(m)), str(paths.restore_figures_dir(m))]
    from genmodels.restoration.names import DEFAULT_REFERENCES

    restored = [str(p) for r in DEFAULT_REFERENCES for p in (paths.restore_results_file(r), paths.restorations_file(r), paths.restore_figures_dir(r))]
    assert outs(STAGES["restore_reference"]) == [*restored, *(str(paths.metrics_file(r)) for r in DEFAULT_REFERENCES)]
    assert outs(STAGES["report"]) == [str(paths.LEADERBOARD_CSV), str(paths.LEADERBOARD_MD), str(paths.RESTORATION_CSV), str(paths.INDEX_HTML)]


@pytest.mark.parametrize("name", [n for n in STAGES if n != "check"])
def test_each_stage_declares_its_script_and_the_library_code_it_imports(name: str) -> None:
    deps = body(name)["deps"]
    script = f"pipelines/{name.replace('-', '_')}.py"
    code = stage_code(ROOT / script)
    assert script in deps and covered("pipelines/common.py", deps)
    runs = {str(p.relative_to(ROOT)) for p in code}
    assert sorted(runs - set(deps)) == [], f"{name} runs pipelines code it does not declare"
    assert sorted(d for d in deps if d.startswith("pipelines/") and d not in runs) == [], f"{name} declares pipelines code it does not run"
    # common.py's own library imports serve helpers (the dataset card, the evaluator's files) that most stages never call
    own = [f for f in code if f != ROOT / "pipelines/common.py"]
    missing = sorted({p for f in own for p in map(module_path, imported(f, "genmodels")) if not covered(p, deps)})
    assert not missing, f"{name} imports code it does not declare: {missing}"
    for dep in deps:  # every declared path exists or is another stage's output
        produced = any(dep == o.replace("${key}", dep.split("/")[-1].split(".")[0]) for s in STAGES for o in outs(body(s)))
        produced |= dep == str(paths.RESTORATIONS)
        assert (ROOT / dep.replace("${item}", "vae")).exists() or produced or dep in ("metrics", str(paths.RESAMPLES), "samples", "figures", "models"), dep


@pytest.mark.parametrize("name", [n for n in STAGES if n != "check"])
def test_params_come_from_the_resolved_file(name: str) -> None:
    (entry,) = body(name)["params"]
    assert list(entry) == [str(paths.PARAMS_RESOLVED)]


def test_check_runs_on_any_edit_of_params_or_code() -> None:
    assert {"params.yaml", "pipelines", "genmodels"} <= set(STAGES["check"]["deps"])


def test_a_models_stages_depend_on_its_family_and_the_shared_core_only() -> None:
    for name in PER_MODEL:
        assert STAGES[name]["foreach"] == "${models}"
        deps = body(name)["deps"]
        assert "genmodels/models/${item}" in deps and "genmodels/models/core" in deps
        assert "genmodels/models" not in deps and "genmodels" not in deps
        assert "${key}" in body(name)["cmd"]


@pytest.mark.parametrize("family", FAMILIES)
def test_a_family_package_imports_no_other_family(family: str) -> None:
    """What makes `genmodels/models/<family>` an exact dependency: families share only models/core."""
    for path in (ROOT / "genmodels/models" / family).rglob("*.py"):
        others = {m for m in imported(path, "genmodels") if m.startswith("genmodels.models.") and m.split(".")[2] not in (family, "core")}
        assert not others, f"{path.relative_to(ROOT)} imports {others}"


def test_the_shared_core_imports_no_family() -> None:
    for path in (ROOT / "genmodels/models/core").rglob("*.py"):
        assert not {m for m in imported(path, "genmodels") if m.startswith("genmodels.models.") and m.split(".")[2] != "core"}, path


def test_the_restoration_reference_rows_are_the_registered_ones() -> None:
    from genmodels.restoration.names import DEFAULT_REFERENCES
    from genmodels.restoration.references import REFERENCES

    assert sorted(DEFAULT_REFERENCES) == sorted(REFERENCES.names())


def test_the_report_reads_the_restoration_outputs() -> None:
    deps = STAGES["report"]["deps"]
    assert "metrics" in deps and str(paths.RESTORATIONS) in deps


def test_evaluate_reads_the_restore_results_it_writes_into_the_metrics() -> None:
    """restore@<model> alone writes its results; evaluate@<model> alone writes metrics/<model>.json."""
    assert str(paths.restore_results_file("${key}")) in body("evaluate")["deps"]
    assert not any(o.startswith("metrics/") for o in outs(body("restore")))
