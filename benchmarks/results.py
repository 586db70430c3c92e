"""``benchmarks/results.csv``: one row per measured figure, written by every benchmark script.

Columns (docs/design.md): ``benchmark,figure,value,unit,target,met,machine,commit``. A script
replaces its own earlier rows (same benchmark and figure) and keeps everyone else's.
"""

from __future__ import annotations

import csv
import os
import platform
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATH = ROOT / "benchmarks/results.csv"
HEADER = ["benchmark", "figure", "value", "unit", "target", "met", "machine", "commit"]


def commit() -> str:
    """The short hash of the checked-out commit (``+dirty`` when the tree has changes other than
    the results file itself, which every benchmark run edits)."""
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
    status = ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", f":!{PATH.relative_to(ROOT)}"]
    dirty = subprocess.run(status, cwd=ROOT, capture_output=True, text=True, check=False).stdout
    return out + ("+dirty" if dirty.strip() else "")


def machine(device: str = "cpu") -> str:
    """What a figure was measured on: architecture, CPU count, and the device (``cpu`` or a GPU's name)."""
    return f"{platform.machine()} {os.cpu_count()} cpu" + ("" if device == "cpu" else f", {device}")


def row(benchmark: str, figure: str, value: float | str, unit: str, target: str = "", met: bool | None = None, device: str = "cpu") -> list[str]:
    """One results row; ``met`` is empty for figures without a target."""
    text = value if isinstance(value, str) else f"{value:.4g}"
    return [benchmark, figure, text, unit, target, "" if met is None else str(bool(met)), machine(device), commit()]


def write_rows(rows: list[list[str]], path: Path = PATH) -> None:
    """Put ``rows`` into the results file, replacing earlier rows of the same (benchmark, figure)."""
    kept: list[list[str]] = []
    if path.is_file():
        with open(path, newline="") as f:
            kept = list(csv.reader(f))[1:]
    figures = {(r[0], r[1]) for r in rows}
    kept = [r for r in kept if r and (r[0], r[1]) not in figures]
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        csv.writer(f).writerows([HEADER, *kept, *rows])
    tmp.replace(path)
