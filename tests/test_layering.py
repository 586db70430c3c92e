"""Imports point down (docs/design.md, "Layers"), read from the source with ``ast``, imports inside
functions included: stage scripts never import each other, the library never imports
``pipelines``, Ray and MLflow stay at the library's edges, and no modules import each other in
a circle.

The graph's edges: ``import a.b`` and ``from a.b import c`` name module ``a.b`` (or ``a.b.c``
when that is a module); imports under ``if TYPE_CHECKING:`` are type hints, not edges; a
module naming one of its own parent packages adds nothing (Python loads the parents first
anyway).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[1]
PACKAGES = ("genmodels", "pipelines")
DRIVER = "pipelines.cli"  # dispatches to every stage script; no stage imports it


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING" or isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif not _type_checking(node):
            yield from _import_nodes(node)


def _known(name: str) -> str | None:
    """``name`` or its nearest enclosing module of ours (None outside genmodels and pipelines)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


@cache
def imports(module: str) -> frozenset[str]:
    """The modules of ours that ``module`` imports anywhere in its source (see the module docstring)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
            continue
        base = node.module or ""
        if node.level:  # relative: from the package, one level up per extra dot
            parent = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*parent, *([node.module] if node.module else [])])
        names |= {f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names}
    found = {_known(n) for n in names} - {None, module}
    return frozenset(m for m in found if not module.startswith(f"{m}."))


def stage_scripts() -> set[str]:
    """The pipelines modules the CLI runs as commands: the ones it imports inside its command functions."""
    tree = ast.parse(MODULES[DRIVER].read_text())
    inside = [n for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))]
    found = set()
    for node in inside:
        if isinstance(node, ast.ImportFrom) and node.module == "pipelines":
            found |= {f"pipelines.{a.name}" for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pipelines."):
            found.add(node.module)
    return found


def cycles(graph: dict[str, frozenset[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan 1972, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_the_cli_runs_every_dvc_stage_as_a_stage_script() -> None:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert {f"pipelines.{name}" for name in stages} <= stage_scripts()
    assert {"pipelines.tune", "pipelines.ui", "pipelines.metrics_cmd"} <= stage_scripts()


def test_no_stage_script_imports_another_and_glue_imports_none() -> None:
    """Shared code lives in glue modules (common, paths, jobs, variants, ...) or in the library."""
    scripts = stage_scripts()
    offenders = {m: sorted(imports(m) & scripts) for m in MODULES if m.startswith("pipelines.") and m != DRIVER}
    assert {m: found for m, found in offenders.items() if found} == {}


def test_the_library_never_imports_pipelines() -> None:
    offenders = {m: sorted(i for i in imports(m) if i.startswith("pipelines")) for m in MODULES if m.startswith("genmodels")}
    assert {m: found for m, found in offenders.items() if found} == {}


def _third_party(module: str) -> set[str]:
    tree = ast.parse(MODULES[module].read_text())
    names = {a.name for n in _import_nodes(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in _import_nodes(tree) if isinstance(n, ast.ImportFrom) and n.module and not n.level}
    return {n.split(".")[0] for n in names}


def test_ray_and_mlflow_only_at_the_librarys_edges() -> None:
    """Ray in the training adapters, MLflow in genmodels/tracking; the rest of the library runs with torch alone."""
    ray_ok = {"genmodels.training.ray_adapter", "genmodels.training.tune_adapter"}
    ray = {m for m in MODULES if m.startswith("genmodels") and "ray" in _third_party(m)}
    mlflow = {m for m in MODULES if m.startswith("genmodels") and "mlflow" in _third_party(m)}
    assert ray <= ray_ok and ray
    assert all(m.startswith("genmodels.tracking.") for m in mlflow) and mlflow
    trackers = {m for m in MODULES if m.startswith("genmodels") and not m.startswith("genmodels.tracking") and any(i.startswith("genmodels.tracking") for i in imports(m))}
    assert trackers == set()  # training records through a handle its caller passes in (tune_adapter.trial_fn's trial_run)


def test_no_modules_import_each_other_in_a_circle() -> None:
    assert cycles({m: imports(m) for m in MODULES}) == []


def test_the_checks_see_what_they_look_for() -> None:
    """The graph reads relative, in-function and type-only imports as documented, and finds a circle."""
    assert "pipelines.common" in imports("pipelines.train") and "genmodels.training.orchestrate" in imports("pipelines.train")
    assert "genmodels.tracking.runs" in imports("pipelines.train")  # imported inside a function
    assert "genmodels" not in imports("genmodels.training.orchestrate")  # a parent package adds nothing
    assert cycles({"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset({"a"})}) == [["a", "b", "c"]]
    assert cycles({"a": frozenset({"b"}), "b": frozenset()}) == []
