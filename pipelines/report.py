"""Stage ``report``: reports/leaderboard.{csv,md}, one row per model, one column per metric key.

Columns and the "better" line come from the metric registry, so a newly registered metric
appears here with nothing else edited.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from genmodels.atomic import write_text
from genmodels.errors import DataError
from genmodels.metrics.registry import key_specs
from pipelines import paths
from pipelines.common import log, params


def fmt(v: float | None) -> str:
    if v is None:
        return "—"
    if float(v).is_integer():
        return f"{v:.0f}"
    return f"{v:.1f}" if abs(v) >= 1000 else f"{v:.4g}"


def rows(root: Path, models: dict[str, str], columns: list[str]) -> list[dict]:
    out = []
    for name, family in models.items():
        path = root / paths.metrics_file(name)
        if not path.is_file():
            raise DataError(f"metrics file not found: {path} (run evaluate@{name})")
        m = json.loads(path.read_text())
        out.append({"model": name, "family": family, **{k: m.get(k) for k in columns}})
    return out


def markdown(table: list[dict], columns: list[str]) -> str:
    specs = key_specs()
    lower = [k for k in columns if specs[k].better == "lower"]
    higher = [k for k in columns if specs[k].better == "higher"]
    md = ["| model | family | " + " | ".join(columns) + " |", "|" + "---|" * (len(columns) + 2)]
    md += [f"| {r['model']} | {r['family']} | " + " | ".join(fmt(r[k]) for k in columns) + " |" for r in table]
    md.append("")
    md.append(f"Lower is better: {', '.join(lower)}. Higher is better: {', '.join(higher)}. "
              "— = undefined for the family (see metrics/<model>.json notes).")  # fmt: skip
    return "\n".join(md) + "\n"


def run(root: Path, params_file: str | None = None) -> list[dict]:
    p = params(root, params_file)
    columns = list(key_specs())
    table = rows(root, p.models, columns)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["model", "family", *columns], lineterminator="\n")
    writer.writeheader()
    for r in table:
        writer.writerow({k: ("" if v is None else v) for k, v in r.items()})
    write_text(root / paths.LEADERBOARD_CSV, buf.getvalue())
    write_text(root / paths.LEADERBOARD_MD, markdown(table, columns))
    log(f"report: {len(table)} model(s) -> {paths.LEADERBOARD_MD}")
    return table
