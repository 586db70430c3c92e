"""The report's restoration table: rows = models + the classical reference rows, columns = task x
{psnr, ssim, accuracy} (+ the inpainting completions' fid) for every task of ``restore.tasks``,
each with its 95 % interval, null with the reason (numbered notes under the table). The keys are
read from metrics/<row>.json (evaluate@<model> through the metric registry; restore_reference for
the ``ref-<method>`` rows); pictures from restorations/<row>/."""

from __future__ import annotations

import csv
import html
import io
import json
from pathlib import Path

from genmodels.restoration.names import BETTER, DEFAULT_REFERENCES, INTERVAL_SCORES, score_names, task_key
from pipelines import paths

REFERENCE = "(reference)"
RAN = "restore_seconds"  # written beside the keys when the row's restoration ran


def restoration_rows(root: Path, models: dict[str, str]) -> list[dict]:
    """One row per model and reference row whose metrics/<row>.json holds restoration results
    (a model evaluated before its restore@<model> ran, or a stage not run yet, is left out)."""
    out = []
    for name, family in [*models.items(), *((r, REFERENCE) for r in DEFAULT_REFERENCES)]:
        path = root / paths.metrics_file(name)
        if path.is_file():
            m = json.loads(path.read_text())
            if RAN in m:
                out.append({**m, "model": name, "family": family})
    return out


def task_columns(tasks: list[str]) -> list[tuple[str, str]]:
    """``(task name, score)`` pairs of ``restore.tasks``, in its order."""
    return [(n, s) for n in tasks for s in score_names(n)]


def images(rows: list[dict]) -> str:
    """The number of test images restored (``restore_images``), the same for every row."""
    n = rows[0].get("restore_images")
    return "?" if n is None else f"{n:.0f}"


def value_text(row: dict, key: str) -> str:
    v = row.get(key)
    if v is None:
        return "—"
    lo, hi = row.get(f"{key}_ci_low"), row.get(f"{key}_ci_high")
    return f"{v:.3g} [{lo:.3g}, {hi:.3g}]" if lo is not None and hi is not None else f"{v:.3g}"


def cells(rows: list[dict], columns: list[tuple[str, str]]) -> tuple[list[list[str]], list[str]]:
    """The table's text cells and the numbered reasons of its nulls (``— [1]``)."""
    reasons: list[str] = []
    table = []
    for r in rows:
        line = []
        for name, score in columns:
            key = f"{task_key(name)}_{score}"
            text = value_text(r, key)
            reason = r.get("notes", {}).get(key)
            if text == "—" and reason:
                if reason not in reasons:
                    reasons.append(reason)
                text += f" [{reasons.index(reason) + 1}]"
            line.append(text)
        table.append(line)
    return table, reasons


def markdown(rows: list[dict], tasks: list[str]) -> str:
    """The restoration section of reports/leaderboard.md ("" without rows)."""
    if not rows:
        return ""
    columns = task_columns(tasks)
    table, reasons = cells(rows, columns)
    md = ["## Restoration", "", f"Seeded corruptions of {images(rows)} test images (restore.n_images), the same for every row; "
          "mean over images [95 % bootstrap interval]. Higher is better for " + ", ".join(s for s in INTERVAL_SCORES) +
          "; lower for fid (of the inpainting completions). — = undefined, reason below. See docs/restoration.md.", "",
          "| model | family | " + " | ".join(f"{task_key(n)}_{s}" for n, s in columns) + " |", "|" + "---|" * (len(columns) + 2)]  # fmt: skip
    md += [f"| {r['model']} | {r['family']} | " + " | ".join(line) + " |" for r, line in zip(rows, table)]
    if reasons:
        md += ["", *(f"[{i}] {reason}" for i, reason in enumerate(reasons, 1))]
    return "\n".join(md) + "\n"


def csv_text(rows: list[dict], tasks: list[str]) -> str:
    """reports/restoration.csv: one row per model / reference row, every restoration key (empty where null)."""
    columns = task_columns(tasks)
    keys = [f"{task_key(n)}_{s}{suffix}" for n, s in columns for suffix in (("", "_ci_low", "_ci_high") if s in INTERVAL_SCORES else ("",))]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["model", "family", *keys, "restore_seconds"])
    for r in rows:
        writer.writerow([r["model"], r["family"], *("" if r.get(k) is None else r[k] for k in keys), r.get("restore_seconds", "")])
    return buf.getvalue()


def html_section(root: Path, rows: list[dict], tasks: list[str], figure) -> list[str]:  # noqa: ANN001
    """The restoration table and each row's pictures (corrupted | restored | clean per task) for reports/index.html."""
    if not rows:
        return []
    columns = task_columns(tasks)
    table, reasons = cells(rows, columns)
    head = "".join(f"<th>{html.escape(task_key(n))}<br>{html.escape(s)} {'↑' if BETTER[s] == 'higher' else '↓'}</th>" for n, s in columns)
    body = "".join(f"<tr><td>{html.escape(r['model'])}</td><td>{html.escape(r['family'])}</td>" + "".join(f"<td>{html.escape(c)}</td>" for c in line) + "</tr>"
                   for r, line in zip(rows, table))  # fmt: skip
    parts = ["<h2 id='restoration'>Restoration</h2>",
             f"<p>Seeded corruptions of {images(rows)} test images, the same for every row; [a, b] = 95 % bootstrap interval.</p>",
             f"<div class='scroll'><table><tr><th>model</th><th>family</th>{head}</tr>{body}</table></div>"]  # fmt: skip
    if reasons:
        parts.append("<ol>" + "".join(f"<li>{html.escape(x)}</li>" for x in reasons) + "</ol>")
    for r in rows:
        folder = root / paths.restore_figures_dir(r["model"])
        found = [folder / f"{t}.png" for t in tasks]
        pics = [figure(p, f"{r['model']}: {p.stem}", 420) for p in found if p.is_file()]
        if pics:
            parts += [f"<h3>{html.escape(r['model'])} <small>({html.escape(r['family'])})</small></h3>", "<div class='pictures'>", *pics, "</div>"]
    return parts
