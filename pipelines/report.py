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


REFERENCE_FAMILY = "(reference)"


def fmt(v: float | None) -> str:
    if v is None:
        return "—"
    if float(v).is_integer():
        return f"{v:.0f}"
    return f"{v:.1f}" if abs(v) >= 1000 else f"{v:.4g}"


def rows(root: Path, models: dict[str, str], columns: list[str]) -> list[dict]:
    """One row per model, then the reference rows (family ``(reference)``)."""
    out = []
    for name, family in [*models.items(), *((r, REFERENCE_FAMILY) for r in paths.REFERENCE_ROWS)]:
        path = root / paths.metrics_file(name)
        if not path.is_file():
            stage = "reference" if family == REFERENCE_FAMILY else f"evaluate@{name}"
            raise DataError(f"metrics file not found: {path} (run {stage})")
        m = json.loads(path.read_text())
        out.append({"model": name, "family": family, **{k: m.get(k) for k in columns}})
    return out


def cell(row: dict, key: str) -> str:
    """The value, with its bootstrap interval when the row has one: ``0.41 [0.33, 0.52]``."""
    lo, hi = row.get(f"{key}_ci_low"), row.get(f"{key}_ci_high")
    return fmt(row[key]) + (f" [{fmt(lo)}, {fmt(hi)}]" if row[key] is not None and lo is not None and hi is not None else "")


def markdown(table: list[dict], keys: list[str]) -> str:
    specs = key_specs()
    columns = [k for k in keys if specs[k].column]
    lower = [k for k in columns if specs[k].better == "lower"]
    higher = [k for k in columns if specs[k].better == "higher"]
    md = ["| model | family | " + " | ".join(columns) + " |", "|" + "---|" * (len(columns) + 2)]
    md += [f"| {r['model']} | {r['family']} | " + " | ".join(cell(r, k) for k in columns) + " |" for r in table]
    md.append("")
    md.append(f"Lower is better: {', '.join(lower)}. Higher is better: {', '.join(higher)}. "
              "[a, b] = 95 % bootstrap interval. — = undefined for the family (see metrics/<model>.json notes). "
              "Reference rows: ref-holdout = held-out real images (the noise floor), ref-train-copy = training images "
              "(what pure copying scores; see ct_stat, nn_train_share, train_copies).")  # fmt: skip
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
