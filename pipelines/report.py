"""Stage ``report``: reports/leaderboard.{csv,md}, one row per model, one column per metric key.

Columns and the "better" line come from the metric registry, so a newly registered metric
appears here with nothing else edited.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy.stats import t as student_t

from genmodels.atomic import write_text
from genmodels.errors import DataError
from genmodels.metrics.builtin.diagnostics import HOLDOUT_KEY
from genmodels.metrics.builtin.model_based import UNIFORM_FLAG
from genmodels.metrics.registry import key_specs
from genmodels.metrics.resampling import tied_groups
from genmodels.metrics.seeds import MEAN_SUFFIX, PER_SEED, SD_SUFFIX, headline_keys, per_seed_values
from pipelines import paths
from pipelines.common import log, params
from pipelines.report_html import figure, page
from pipelines.report_mlflow import publish
from pipelines.report_restore import csv_text, html_section, restoration_rows
from pipelines.report_restore import markdown as restoration_markdown
from pipelines.summary import HEADLINE

REFERENCE_FAMILY = "(reference)"
RANKED_BY = "fid"  # the metric whose significance groups the leaderboard shows
MIN_SEEDS = 3  # fewest training seeds whose spread the groups include (an sd of 2 values has 1 degree of freedom)


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
        out.append({"model": name, "family": family, **{k: m.get(k) for k in columns}, **seed_fields(m), UNIFORM_FLAG: m.get(UNIFORM_FLAG),
                    "notes": m.get("notes", {})})  # fmt: skip
    return out


def seed_fields(m: dict) -> dict:
    """A metrics file's seed count and mean and sd across seeds per headline metric ({} for one seed)."""
    if PER_SEED not in m:
        return {}
    return {"seeds": len(m[PER_SEED]), **{k: v for k, v in m.items() if k.endswith((MEAN_SUFFIX, SD_SUFFIX))}}


def nll_kind(row: dict) -> str:
    """exact, bound or estimate: the first word of the likelihood's note ("" without one)."""
    return str(row.get("notes", {}).get("nll_bits_per_dim", "")).split(" ")[0] if row.get("nll_bits_per_dim") is not None else ""


def cell(row: dict, key: str) -> str:
    """The value, with its bootstrap interval when the row has one: ``0.41 [0.33, 0.52]``; a
    likelihood also shows its kind and any two-sided bound: ``2.31 (estimate, 2.29–2.33)``."""
    lo, hi = row.get(f"{key}_ci_low"), row.get(f"{key}_ci_high")
    mean, sd = row.get(key + MEAN_SUFFIX), row.get(key + SD_SUFFIX)
    if mean is not None and sd is not None:  # several training seeds: their mean ± sd
        text = f"{fmt(mean)} ± {fmt(sd)}"
    else:
        text = fmt(row[key]) + (f" [{fmt(lo)}, {fmt(hi)}]" if row[key] is not None and lo is not None and hi is not None else "")
    if key == "nll_bits_per_dim" and row[key] is not None:
        kind = nll_kind(row)
        low, high = row.get(f"{key}_low"), row.get(f"{key}_high")
        tag = {"exact": "exact", "bound": "upper bound", "estimate": "estimate"}.get(kind, kind)
        text += f" ({tag}, {fmt(low)}–{fmt(high)})" if low is not None and high is not None else f" ({tag})"
        if row.get(UNIFORM_FLAG):
            text += " ⚠ worse than uniform"  # above log2 K bits/dim: a failed fit or estimate (see the notes)
    return text


def markdown(table: list[dict], keys: list[str], sentence: str = "", also: tuple[str, ...] = ()) -> str:
    """The markdown leaderboard: the registry's column keys and the keys in ``also``."""
    specs = key_specs()
    columns = [k for k in keys if specs[k].column or k in also]
    lower = [k for k in columns if specs[k].better == "lower"]
    higher = [k for k in columns if specs[k].better == "higher"]
    group = f"{RANKED_BY}_group"
    md = [f"| model | family | {group} | " + " | ".join(columns) + " |", "|" + "---|" * (len(columns) + 3)]
    md += [f"| {r['model']} | {r['family']} | {r.get(group) or '—'} | " + " | ".join(cell(r, k) for k in columns) + " |" for r in table]
    md.append("")
    if sentence:
        md += [sentence, ""]
    md.append(f"Lower is better: {', '.join(lower)}. Higher is better: {', '.join(higher)}. "
              "[a, b] = 95 % bootstrap interval. — = undefined for the family (see metrics/<model>.json notes). "
              "Reference rows: ref-holdout = held-out real images (the noise floor), ref-train-copy = training images "
              "(what pure copying scores; see ct_stat, nn_train_share, train_copies).")  # fmt: skip
    counts = sorted({r["seeds"] for r in table if "seeds" in r})
    if counts:
        md += ["", (f"a ± b = mean ± sd over {'/'.join(map(str, counts))} training seeds (`seeds:`; each seed's value in "
                    "metrics/<model>.json); such a row's intervals and plain CSV columns are its first seed's; "
                    "the line on the fid groups says whether they include the seeds' spread.")]  # fmt: skip
    if HOLDOUT_KEY in columns:
        md += ["", (f"{HOLDOUT_KEY}: the held-out class's test images against the others', scored by a copy of the model "
                    "trained without that class (evaluate.holdout_class); not part of anomaly_auroc.")]  # fmt: skip
    return "\n".join(md) + "\n"


def load_resamples(root: Path, table: list[dict], key: str) -> dict[str, np.ndarray]:
    """Per-resample values of ``key`` for the rows that have them."""
    out = {}
    for r in table:
        path = root / paths.resamples_file(r["model"])
        if path.is_file():
            with np.load(path) as z:
                if f"{key}_resamples" in z.files:
                    out[r["model"]] = z[f"{key}_resamples"]
    return out


def load_seed_values(root: Path, table: list[dict], key: str) -> dict[str, list[float]]:
    """``key`` under every training seed (the first seed's first) for the rows that have several.

    The first seed's value is the row's own, whose resamples the comparisons read; a file
    where they differ was not written by one evaluate run and stops the report.
    """
    out = {}
    for r in table:
        path = root / paths.metrics_file(r["model"])
        values = per_seed_values(json.loads(path.read_text()), key)
        if values is not None:
            if values[0] != r[key]:
                raise DataError(f"{path}: {key} under the first seed ({values[0]}) != {key} ({r[key]}); rerun evaluate@{r['model']}")
            out[r["model"]] = values
    return out


class GroupScope(NamedTuple):
    """Which variance the groups include."""

    seeds: dict[str, np.ndarray] | None  # each model's values under every seed; None: the first seed's bootstrap alone
    variance: str  # the CSV's <key>_group_variance
    method: str  # in the groups' line: how the comparisons are made
    note: str  # the sentence after the groups: what they account for and what not


def seed_policy(models: list[str], seed_values: dict[str, list[float]]) -> GroupScope:
    """The groups include the between-seed spread when every grouped model has at least
    :data:`MIN_SEEDS` training seeds. With 2, an sd has one degree of freedom, the t quantile is
    several times the normal one and the groups would say nothing, so they stay the first
    seed's paired bootstrap while the ± columns show the spread."""
    counts = {m: len(seed_values.get(m, [0.0])) for m in models}
    low, high = min(counts.values(), default=1), max(counts.values(), default=1)
    n = f"{low}" if low == high else f"{low}–{high}"
    bootstrap = "paired bootstrap on shared resamples"
    if low >= MIN_SEEDS:
        return GroupScope({m: np.asarray(seed_values[m]) for m in models}, f"bootstrap + {n} seeds",
                          f"means over {n} training seeds; {bootstrap} + between-seed spread",
                          f"The groups include training-seed variance: the seed means over {n} training seeds are compared, "
                          "each difference judged against the first seed's paired bootstrap (sample noise) widened by the "
                          "between-seed spread (Welch t).")  # fmt: skip
    if high == 1:
        return GroupScope(None, "bootstrap", bootstrap, "The groups cover sample noise only (the bootstrap resamples the test set and "
                          f"one trained model's samples), not training-seed variance: one training seed per model (list "
                          f"{MIN_SEEDS} or more under `seeds:` to include it).")  # fmt: skip
    few = [m for m, c in counts.items() if c < MIN_SEEDS]
    quantile = f"{student_t.ppf(0.95, 1):.1f}"
    return GroupScope(None, f"bootstrap (first seed of {n})", f"first seeds; {bootstrap}",
                      f"The groups cover sample noise only, not training-seed variance: {', '.join(few)} "
                      f"{'has' if len(few) == 1 else 'have'} fewer than {MIN_SEEDS} training seeds, and an sd of 2 values has one "
                      f"degree of freedom (one-sided 95 % t quantile {quantile}, normal 1.6), too few to group by; the groups are "
                      f"the first seed's paired bootstrap and a ± b shows the seeds' spread (list {MIN_SEEDS} or more under "
                      "`seeds:` to include it).")  # fmt: skip


def significance(table: list[dict], draws: dict[str, np.ndarray], key: str,
                 seed_values: dict[str, list[float]] | None = None) -> tuple[dict[str, int], str, str]:
    """The group of every row, one plain sentence saying which differences hold and which
    variance they account for (:func:`seed_policy`), and that variance in a word for the CSV."""
    estimates = {r["model"]: r[key] for r in table if r[key] is not None and r["model"] in draws}
    scope = seed_policy(list(estimates), seed_values or {})
    groups = tied_groups(estimates, {m: draws[m] for m in estimates}, key_specs()[key].better == "lower", seeds=scope.seeds)
    if not groups:
        return {}, "", ""
    members = [[m for m, g in groups.items() if g == i] for i in sorted(set(groups.values()))]
    tied = [ms for ms in members if len(ms) > 1]
    text = f"{key} groups ({scope.method}, 95 %): " + " > ".join("{" + ", ".join(ms) + "}" for ms in members) + "."
    if tied:
        text += " Within a group the data cannot separate the rows: " + "; ".join(" ≈ ".join(ms) for ms in tied) + "."
    return groups, f"{text} {scope.note}", scope.variance


def run(root: Path, params_file: str | None = None) -> list[dict]:
    p = params(root, params_file)
    columns = list(key_specs())
    table = rows(root, p.models, columns)
    seed_columns = [k for k in ("seeds", *(k + s for k in headline_keys() for s in (MEAN_SUFFIX, SD_SUFFIX))) if any(k in r for r in table)]
    models = [r for r in table if r["family"] != REFERENCE_FAMILY]  # same sample count; FID's small-sample bias differs for the reference rows
    groups, sentence, covers = significance(models, load_resamples(root, models, RANKED_BY), RANKED_BY, load_seed_values(root, models, RANKED_BY))
    for r in table:
        r[f"{RANKED_BY}_group"] = groups.get(r["model"])
        r[f"{RANKED_BY}_group_variance"] = covers if r["model"] in groups else None
    buf = io.StringIO()
    fields = ["model", "family", f"{RANKED_BY}_group", *columns, "nll_kind", UNIFORM_FLAG, f"{RANKED_BY}_group_variance", *seed_columns]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for r in table:
        writer.writerow({**{k: ("" if v is None else v) for k, v in r.items() if k != "notes"}, "nll_kind": nll_kind(r)})
    write_text(root / paths.LEADERBOARD_CSV, buf.getvalue())
    also = (HOLDOUT_KEY,) if p.evaluate.holdout_class is not None else ()
    restoration, tasks = restoration_rows(root, p.models), p.restore.tasks
    write_text(root / paths.LEADERBOARD_MD, markdown(table, columns, sentence, also) + ("\n" + restoration_markdown(restoration, tasks) if restoration else ""))
    write_text(root / paths.RESTORATION_CSV, csv_text(restoration, tasks))
    write_text(root / paths.INDEX_HTML, page(root, f"genmodels report: {p.experiment}", table, columns, sentence, cell, p.seed, html_section(root, restoration, tasks, figure)))
    log(f"report: {len(table)} model(s) -> {paths.LEADERBOARD_MD}, {paths.INDEX_HTML}")
    publish(root, p.experiment, table, markdown(table, [k for k, _ in HEADLINE if k in columns], sentence))
    return table
