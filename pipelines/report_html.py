"""``reports/index.html``: the leaderboard, its intervals, every model's pictures and the
environment, in one self-contained page (pictures embedded as base64 PNG).

Reads what the stages wrote: the leaderboard rows of :mod:`pipelines.report`,
``samples/<m>.png`` and ``figures/<m>/`` (sample@<m>), ``dvc.lock``; draws the interval bars
and training curves with matplotlib.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import platform
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from PIL import Image

from genmodels.metrics.registry import key_specs
from pipelines import paths
from pipelines.summary import HEADLINE, number

PACKAGES = ("genmodels", "torch", "numpy", "scipy", "scikit-learn", "mlflow", "dvc", "ray", "matplotlib", "pillow", "pyarrow")
INTERVAL_KEYS = ("fid", "precision", "recall")  # interval bars drawn in the report
REFERENCE_FAMILY = "(reference)"

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; white-space: nowrap; }
th { background: #f0f0f0; } td:first-child, td:nth-child(2) { text-align: left; }
tr.reference td { color: #777; font-style: italic; }
.scroll { overflow-x: auto; }
.pictures { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
figure { margin: 0; } figcaption { font-size: 12px; color: #555; }
code { background: #f4f4f4; padding: 0 3px; }
"""


def png_data(img: Image.Image | Path) -> str:
    """A ``data:image/png;base64,...`` URI of a picture or a PNG file."""
    if isinstance(img, Path):
        raw = img.read_bytes()
    else:
        buf = io.BytesIO()
        img.save(buf, format="PNG", optimize=True)
        raw = buf.getvalue()
    return "data:image/png;base64," + base64.b64encode(raw).decode("ascii")


def figure(src: Image.Image | Path, caption: str, width: int | None = None) -> str:
    style = f' style="max-width:{width}px"' if width else ""
    return f'<figure><img alt="{html.escape(caption)}" src="{png_data(src)}"{style}><figcaption>{html.escape(caption)}</figcaption></figure>'


def leaderboard_table(table: list[dict], columns: list[str], cell) -> str:
    """The leaderboard as an HTML table (headline metrics first, reference rows marked)."""
    specs = key_specs()
    first = [k for k, _ in HEADLINE if k in columns]
    shown = first + [k for k in columns if specs[k].column and k not in first]
    arrows = {"lower": " ↓", "higher": " ↑"}
    head = "".join(f"<th>{html.escape(k)}{arrows.get(specs[k].better or '', '')}</th>" for k in shown)
    out = [f"<table><tr><th>model</th><th>family</th><th>fid_group</th>{head}</tr>"]
    for r in table:
        cls = ' class="reference"' if r["family"] == REFERENCE_FAMILY else ""
        cells = "".join(f"<td>{html.escape(cell(r, k))}</td>" for k in shown)
        out.append(f"<tr{cls}><td>{html.escape(r['model'])}</td><td>{html.escape(r['family'])}</td><td>{r.get('fid_group') or '—'}</td>{cells}</tr>")
    return "\n".join(out) + "</table>"


def interval_figures(table: list[dict]) -> list[Image.Image]:
    """One bar chart per key of :data:`INTERVAL_KEYS`: each row's value and 95 % interval."""
    from genmodels.viz import interval_bars

    pics = []
    for key in INTERVAL_KEYS:
        rows = [r for r in table if r.get(key) is not None]
        if rows:
            better = key_specs()[key].better
            pics.append(interval_bars([r["model"] for r in rows], [float(r[key]) for r in rows], [r.get(f"{key}_ci_low") for r in rows],
                                      [r.get(f"{key}_ci_high") for r in rows], f"{key} ({better} is better; bars: 95 % bootstrap interval)",
                                      [r["family"] == REFERENCE_FAMILY for r in rows]))  # fmt: skip
    return pics


def training_curves(history: list[dict]) -> Image.Image | None:
    """Every per-epoch series of a training history against the epoch (one panel each); None
    for fewer than two epochs (a closed-form fit such as the GMM's has nothing to plot)."""
    from genmodels.viz import _pyplot, _to_image

    keys = sorted({k for r in history for k, v in r.items() if k not in ("epoch", "train_seconds") and isinstance(v, (int, float))})
    if len(history) < 2 or not keys:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(keys), figsize=(2.6 * len(keys), 2.2), squeeze=False)
    for ax, k in zip(axes[0], keys):
        pts = [(r["epoch"], r[k]) for r in history if isinstance(r.get(k), (int, float))]
        ax.plot(*zip(*pts), marker="o", ms=2)
        ax.set_title(k, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("epoch", fontsize=7)
    fig.tight_layout()
    return _to_image(fig)


def model_pictures(root: Path, name: str) -> list[str]:
    """The figures of one model that exist: sample grid, interpolation, nearest neighbours, curves."""
    folder = root / paths.figures_dir(name)
    out = []
    for path, caption in ((root / paths.samples_png(name), "samples"), (folder / paths.INTERPOLATION_PNG, "latent interpolation"),
                          (folder / paths.NEIGHBOURS_PNG, "nearest training images")):  # fmt: skip
        if path.is_file():
            out.append(figure(path, caption, 420))
    curves = folder / paths.CURVES_FILE
    if curves.is_file():
        pic = training_curves(json.loads(curves.read_text()))
        if pic is not None:
            out.append(figure(pic, "training curves (per epoch)"))
    return out


def dvc_lock_hashes(root: Path) -> dict[str, str]:
    """Per stage of ``dvc.lock``: the md5 of its outputs (what the stage produced)."""
    import yaml

    lock = root / "dvc.lock"
    if not lock.is_file():
        return {}
    stages = (yaml.safe_load(lock.read_text()) or {}).get("stages", {})
    return {name: ", ".join(f"{o['path']}={str(o.get('md5', ''))[:10]}" for o in s.get("outs", [])) for name, s in stages.items()}


def environment(root: Path, seed: int | None) -> dict[str, str]:
    """Package versions, hardware, seed, git commit and the dvc.lock hash."""
    from genmodels.tracking.mlflow_adapter import dvc_lock_hash, git_commit

    env = {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": str(os.cpu_count())}
    for pkg in PACKAGES:
        try:
            env[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    try:
        import torch

        env["accelerator"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU)"
    except ImportError:
        pass
    env |= {"seed": str(seed), "git commit": git_commit(root) or "—", "dvc.lock sha256": dvc_lock_hash(root) or "—"}
    return env


def page(root: Path, title: str, table: list[dict], columns: list[str], sentence: str, cell, seed: int | None, extra: list[str] = ()) -> str:
    """The whole HTML page; ``extra``: more sections (the restoration table) before the environment."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>",
             f"<p>Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by the <code>report</code> stage. "
             "[a, b] = 95 % bootstrap interval; ↓ lower is better, ↑ higher is better; — = undefined for the family "
             "(see <code>metrics/&lt;model&gt;.json</code> notes). Grey rows are the reference rows: ref-holdout = held-out "
             "real images (the noise floor), ref-train-copy = training images (what copying scores).</p>",
             "<h2>Leaderboard</h2>", f"<div class='scroll'>{leaderboard_table(table, columns, cell)}</div>"]  # fmt: skip
    if sentence:
        parts.append(f"<p>{html.escape(sentence)}</p>")
    bars = interval_figures(table)
    if bars:
        parts += ["<h2>Intervals</h2><div class='pictures'>", *(figure(b, "95 % bootstrap intervals") for b in bars), "</div>"]
    for r in table:
        if r["family"] == REFERENCE_FAMILY:
            continue
        pics = model_pictures(root, r["model"])
        headline = " · ".join(f"{label} {number(r.get(k))}" for k, label in HEADLINE)
        parts += [f"<h2 id='{html.escape(r['model'])}'>{html.escape(r['model'])} <small>({html.escape(r['family'])})</small></h2>",
                  f"<p>{html.escape(headline)}</p>", "<div class='pictures'>", *pics, "</div>"]  # fmt: skip
    parts += list(extra)
    env = environment(root, seed)
    parts += ["<h2>Environment</h2><table>", *(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in env.items()), "</table>"]
    lock = dvc_lock_hashes(root)
    if lock:
        parts += ["<h3>dvc.lock (md5 of each stage's outputs)</h3><table>",
                  *(f"<tr><td>{html.escape(k)}</td><td style='text-align:left'>{html.escape(v)}</td></tr>" for k, v in lock.items()), "</table>"]  # fmt: skip
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
