"""``genmodels compare``: a run's metrics/*.json (and evaluator card) against a baseline's.

Reads both sides and prints :mod:`genmodels.metrics.compare`'s verdicts. A side is a folder
(a project folder holding ``metrics/`` and optionally ``models/evaluator/card.json``, or a
folder of ``<model>.json`` files) or a git revision of the project (``git show
REV:metrics/<model>.json``; the card from git where it is tracked, else from the local DVC
cache by the ``dvc.lock`` at that revision). Exit code: 0 when nothing is
outside, 1 when something is; bad input raises :class:`DataError` (exit 2).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from genmodels.errors import DataError
from genmodels.metrics.compare import CARD_ROW, Comparison, as_json, compare_runs, text_lines
from pipelines import paths

METRICS_DIR = paths.metrics_file("x").parent
DVC_LOCK = "dvc.lock"  # where DVC records the hash of each stage output


class Side:
    """One side's metrics files by model name, its evaluator card (or None) and what it is."""

    def __init__(self, label: str, metrics: dict[str, dict[str, Any]], card: dict[str, Any] | None) -> None:
        self.label, self.metrics, self.card = label, metrics, card


def _parse(text: str, where: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(value, dict):
        raise DataError(f"{where}: a JSON object is needed, found {type(value).__name__}")
    return value


def from_folder(folder: Path) -> Side:
    """A project folder (``metrics/*.json``, ``models/evaluator/card.json``) or a folder of ``*.json``."""
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder")
    project = (folder / METRICS_DIR).is_dir()
    files = sorted((folder / METRICS_DIR if project else folder).glob("*.json"))
    if not files:
        raise DataError(f"{folder}: no metrics files ({METRICS_DIR}/*.json or *.json)")
    metrics = {f.stem: _parse(f.read_text(), str(f)) for f in files}
    card_file = folder / paths.EVALUATOR_CARD
    card = _parse(card_file.read_text(), str(card_file)) if project and card_file.is_file() else None
    return Side(str(folder), metrics, card)


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise DataError("git is not installed: give the baseline as --baseline DIR") from None


def from_git(root: Path, rev: str) -> Side:
    """The metrics files (and card, where tracked) of ``root`` at git revision ``rev``."""
    if _git(root, "rev-parse", "--is-inside-work-tree").returncode != 0:
        raise DataError(f"{root}: not a git repository (give the baseline as --baseline DIR)")
    if _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").returncode != 0:
        raise DataError(f"{rev}: no such git revision in {root}")
    listed = _git(root, "ls-tree", "--name-only", rev, "--", f"{METRICS_DIR}/").stdout.split()
    names = sorted(Path(p).stem for p in listed if p.endswith(".json"))
    if not names:
        raise DataError(f"git {rev}: no {METRICS_DIR}/*.json committed under {root}")
    metrics = {}
    for name in names:
        spec = f"{rev}:./{METRICS_DIR}/{name}.json"
        metrics[name] = _parse(_git(root, "show", spec).stdout, f"git {spec}")
    card_spec = f"{rev}:./{paths.EVALUATOR_CARD.as_posix()}"
    if _git(root, "cat-file", "-e", card_spec).returncode == 0:
        card = _parse(_git(root, "show", card_spec).stdout, f"git {card_spec}")
    else:
        card = card_from_dvc_cache(root, rev)
    return Side(f"git {rev}", metrics, card)


def card_from_dvc_cache(root: Path, rev: str) -> dict[str, Any] | None:
    """The evaluator card that ``dvc.lock`` at ``rev`` records, read from the repository's local
    DVC cache (``.dvc/cache``, DVC 3's ``files/md5/`` or the older flat layout); None when the
    lock, the entry or the cached objects are not there."""
    lock = _git(root, "show", f"{rev}:./{DVC_LOCK}")
    top = _git(root, "rev-parse", "--show-toplevel").stdout.strip()
    if lock.returncode != 0 or not top:
        return None
    try:
        stages = (yaml.safe_load(lock.stdout) or {}).get("stages", {})
    except yaml.YAMLError:
        return None
    outs = stages.get("evaluator", {}).get("outs", []) if isinstance(stages, dict) else []
    digest = next((o.get("md5") for o in outs if isinstance(o, dict) and o.get("path") == paths.EVALUATOR.as_posix()), None)
    if not isinstance(digest, str):
        return None

    def cached(md5: str) -> Path | None:
        for base in (Path(top) / ".dvc" / "cache" / "files" / "md5", Path(top) / ".dvc" / "cache"):
            if (base / md5[:2] / md5[2:]).is_file():
                return base / md5[:2] / md5[2:]
        return None

    listing = cached(digest)
    if listing is None:
        return None
    try:
        entries = json.loads(listing.read_text())
    except json.JSONDecodeError:
        return None
    card_md5 = next((e.get("md5") for e in entries if isinstance(e, dict) and e.get("relpath") == paths.EVALUATOR_CARD.name), None)
    card_file = cached(card_md5) if isinstance(card_md5, str) else None
    return _parse(card_file.read_text(), f"DVC cache {card_file} (the card of git {rev})") if card_file else None


def select(side: Side, models: Sequence[str] | None) -> dict[str, dict[str, Any]]:
    """The metrics files of ``models`` (every one when ``models`` is None); a named model
    missing on this side is an error."""
    if models is None:
        return side.metrics
    missing = [m for m in models if m not in side.metrics]
    if missing:
        raise DataError(f"{side.label}: no metrics for {', '.join(missing)} (has {', '.join(sorted(side.metrics))})")
    return {m: side.metrics[m] for m in models}


def compare(root: Path, run_dir: Path | None, baseline_dir: Path | None, rev: str, models: Sequence[str] = ()) -> tuple[Comparison, Side, Side]:
    """Read both sides (the run: ``run_dir`` or the working tree at ``root``; the baseline:
    ``baseline_dir`` or ``root`` at git ``rev``) and compare ``models`` (all when empty;
    ``evaluator`` names the evaluator card)."""
    run_side = from_folder(run_dir if run_dir is not None else root)
    base_side = from_folder(baseline_dir) if baseline_dir is not None else from_git(root, rev)
    named = [m for m in models if m != CARD_ROW] if models else None
    card = not models or CARD_ROW in models
    result = compare_runs(select(base_side, named), select(run_side, named),
                          base_side.card if card else None, run_side.card if card else None)  # fmt: skip
    return result, run_side, base_side


def run(root: Path, run_dir: Path | None = None, baseline_dir: Path | None = None, rev: str = "HEAD",
        models: Sequence[str] = (), json_out: bool = False) -> int:  # fmt: skip
    """Print the comparison (text or JSON) and return the exit code: 1 when a value is outside, else 0."""
    result, run_side, base_side = compare(root, run_dir, baseline_dir, rev, models)
    if json_out:
        text = json.dumps({"run": run_side.label, "baseline": base_side.label, **as_json(result)}, indent=2)
    else:
        text = "\n".join([f"run {run_side.label} against baseline {base_side.label}", *text_lines(result)])
    try:
        print(text, flush=True)
    except BrokenPipeError:  # a reader that stopped early (``| head``): the rest goes nowhere
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 1 if result.outside else 0
