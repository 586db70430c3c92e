"""Print ``benchmarks/results.csv`` as a markdown table (the tables of docs/bench.md).

    .venv/bin/python benchmarks/table.py [--csv benchmarks/results.csv] [--benchmark NAME ...] [--targets]

Columns: benchmark | figure | value unit | target | met | machine | commit; rows in the
file's order, grouped by benchmark (first appearance). ``met`` is shown as yes / **no**
(empty for figures without a target).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from results import HEADER, PATH


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(rows: list[dict[str, str]]) -> str:
    order: dict[str, int] = {}
    for r in rows:
        order.setdefault(r["benchmark"], len(order))
    rows = sorted(rows, key=lambda r: order[r["benchmark"]])  # stable: the file's order within a benchmark
    lines = ["| benchmark | figure | value | target | met | machine | commit |", "|---|---|---:|---|---|---|---|"]
    for r in rows:
        value = f"{r['value']} {r['unit']}".strip()
        met = {"True": "yes", "False": "**no**"}.get(r["met"], r["met"])
        lines.append("| " + " | ".join(cell(c) for c in (r["benchmark"], r["figure"], value, r["target"], met, r["machine"], r["commit"])) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", type=Path, default=PATH)
    ap.add_argument("--benchmark", nargs="*", help="only these benchmarks")
    ap.add_argument("--targets", action="store_true", help="only the figures that have a target")
    args = ap.parse_args()
    with open(args.csv, newline="") as f:
        reader = csv.DictReader(f)
        missing = set(HEADER) - set(reader.fieldnames or [])
        if missing:
            raise SystemExit(f"{args.csv}: missing columns {sorted(missing)}")
        rows = [r for r in reader if (not args.benchmark or r["benchmark"] in args.benchmark) and (not args.targets or r["target"])]
    print(render(rows))


if __name__ == "__main__":
    main()
