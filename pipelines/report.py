"""Stage ``report``: reports/leaderboard.{csv,md}, one row per model, one column per metric."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from genmodels.errors import DataError
from genmodels.metrics.suite import METRIC_KEYS
from pipelines import paths
from pipelines.common import log, params

# Columns in reading order: quality first, then likelihood, diagnostics, cost.
COLUMNS = ("fid", "kid", "kid_std", "is", "is_std", "precision", "recall", "density", "coverage", "ppl",
           "nll_bits_per_dim", "modes_covered", "high_quality_fraction", "class_coverage", "anomaly_auroc",
           "train_seconds", "samples_per_second")  # fmt: skip


if set(COLUMNS) != set(METRIC_KEYS):  # a new metric must get a leaderboard column
    raise RuntimeError(f"leaderboard columns out of sync with METRIC_KEYS: {set(COLUMNS) ^ set(METRIC_KEYS)}")


def fmt(v: float | None) -> str:
    if v is None:
        return "—"
    if float(v).is_integer():
        return f"{v:.0f}"
    return f"{v:.1f}" if abs(v) >= 1000 else f"{v:.4g}"


def rows(root: Path, models: list[str]) -> list[dict]:
    out = []
    for name in models:
        path = root / paths.metrics_file(name)
        if not path.is_file():
            raise DataError(f"metrics file not found: {path} (run evaluate@{name})")
        m = json.loads(path.read_text())
        family = json.loads((root / paths.model_dir(name) / "config.json").read_text())["family"]
        out.append({"model": name, "family": family, **{k: m.get(k) for k in COLUMNS}})
    return out


def run(root: Path, params_file: str | None = None) -> list[dict]:
    p = params(root, params_file)
    table = rows(root, p.models)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["model", "family", *COLUMNS], lineterminator="\n")
    writer.writeheader()
    for r in table:
        writer.writerow({k: ("" if v is None else v) for k, v in r.items()})
    md = ["| model | family | " + " | ".join(COLUMNS) + " |", "|" + "---|" * (len(COLUMNS) + 2)]
    md += [f"| {r['model']} | {r['family']} | " + " | ".join(fmt(r[k]) for k in COLUMNS) + " |" for r in table]
    md.append("")
    md.append("Lower is better: fid, kid, ppl, nll_bits_per_dim. Higher is better: is, precision, recall, density, coverage, "
              "modes_covered, high_quality_fraction, class_coverage, anomaly_auroc. — = undefined for the family (see metrics/<model>.json notes).")  # fmt: skip
    out_dir = root / paths.REPORTS
    out_dir.mkdir(parents=True, exist_ok=True)
    for path, text in ((root / paths.LEADERBOARD_CSV, buf.getvalue()), (root / paths.LEADERBOARD_MD, "\n".join(md) + "\n")):
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_text(text)
        os.replace(tmp, path)
    log(f"report: {len(table)} model(s) -> {paths.LEADERBOARD_MD}")
    return table
