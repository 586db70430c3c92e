"""Compare the metrics of a run with a baseline's: is every difference within the baseline's noise?

Pure functions on the parsed ``metrics/<model>.json`` dicts (and the evaluator's card); reading
files and git lives in ``pipelines/compare.py``. Each compared key gets one verdict:

``identical``
    the same JSON value bit for bit: equal float64 bits (``0`` and ``0.0`` are equal), or both
    ``null``.
``within``
    both numbers and the run's value ``v`` lies inside the baseline's uncertainty, judged by the
    first rule that applies, all read from the *baseline's* file:

    1. ``<m>_ci_low`` and ``<m>_ci_high`` are finite numbers (the 95 % bootstrap interval):
       ``ci_low <= v <= ci_high``;
    2. otherwise a spread ``s``, the first finite number >= 0 among ``<m>_stderr``,
       ``<base>_seed_sd`` (for ``m = <base>_seed_mean``, the sd across training seeds),
       ``<m>_std``, ``<m>_sd``: ``|v - baseline| <= 2 s``. A standard error gives roughly a
       95 % band; an sd or std is the spread of the underlying draws (IS splits, KID subsets,
       PPL paths), so the band it gives is wider than the metric's own noise.

    For the evaluator card's ``test_accuracy`` the interval is the Wilson 95 % score interval
    (Wilson 1927) of the baseline's accuracy on its ``test_size`` images.
``outside``
    an interval applies and ``v`` is outside it; or the metric is ``null`` on one side and a
    number on the other (a metric that became undefined, or defined, is never noise).
``no interval``
    the values differ and no rule above applies (the values are still shown).
``only in run`` / ``only in baseline``
    the key is missing on the other side (shown and counted; they do not count as outside).

Not judged on their own: timing keys (``*_seconds``, ``*_per_second``: the machine's speed, not
the model's quality) are listed apart as "timings, not compared"; the uncertainty keys of a
compared metric (``<m>_ci_low``/``_ci_high``/``_stderr``/``_std``/``_sd``, ``<base>_seed_sd``)
belong to it and are counted only; nested blocks (``notes``, ``seeds``: per-seed values, whose
``_seed_mean``/``_seed_sd`` summaries are compared) are skipped, ``notes`` only explaining a
``null``. ``nll_bits_per_dim_low``/``_high`` are the two sides of a stochastic bound, not an
interval for reruns, and are compared as metrics of their own.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

IDENTICAL, WITHIN, OUTSIDE, NO_INTERVAL = "identical", "within", "outside", "no interval"
ONLY_RUN, ONLY_BASELINE = "only in run", "only in baseline"
VERDICTS = (IDENTICAL, WITHIN, OUTSIDE, NO_INTERVAL, ONLY_RUN, ONLY_BASELINE)

CI_SUFFIXES = ("_ci_low", "_ci_high")
SPREAD_SUFFIXES = ("_stderr", "_std", "_sd")
SEED_MEAN, SEED_SD = "_seed_mean", "_seed_sd"
SPREAD_WIDTH = 2.0  # |v - baseline| <= 2 s
Z95 = 1.959963984540054  # standard normal 97.5 % quantile
CARD_ROW, CARD_KEY = "evaluator", "test_accuracy"  # the card's row in a comparison
_TIMING = re.compile(r"(^|_)(seconds|per_second)(_|$)")


@dataclass(frozen=True)
class Row:
    """One compared key: its verdict, both values and the interval it was judged by."""

    model: str
    metric: str
    verdict: str
    run: Any = None
    baseline: Any = None
    interval: tuple[float, float] | None = None
    rule: str | None = None  # "ci", "2 x <spread key>" or "wilson"
    note: str | None = None  # the notes entry of a null value


@dataclass
class Comparison:
    """Every model's rows, the timings shown apart, and what was not compared."""

    rows: list[Row] = field(default_factory=list)
    timings: list[Row] = field(default_factory=list)
    companions: int = 0  # uncertainty keys that belong to a compared metric
    skipped: list[str] = field(default_factory=list)  # "<model>.<block>" nested blocks
    notes: list[str] = field(default_factory=list)  # models or cards present on one side only

    @property
    def outside(self) -> int:
        return sum(r.verdict == OUTSIDE for r in self.rows)

    def counts(self) -> dict[str, int]:
        """How many rows got each verdict (every verdict named, zeros included)."""
        return {v: sum(r.verdict == v for r in self.rows) for v in VERDICTS}


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _finite(v: Any) -> bool:
    return _number(v) and math.isfinite(v)


def identical(a: Any, b: Any) -> bool:
    """The same JSON value bit for bit: numbers by their float64 bits (NaN equals itself), else ``==``."""
    if _number(a) and _number(b):
        return struct.pack("<d", float(a)) == struct.pack("<d", float(b))
    return type(a) is type(b) and a == b


def is_timing(key: str) -> bool:
    """A timing key: ``train_seconds``, ``samples_per_second``, anything ``*_seconds``."""
    return bool(_TIMING.search(key))


def spread_keys(metric: str) -> list[str]:
    """The keys whose value is ``metric``'s spread, in the order the rule tries them."""
    keys = [metric + SPREAD_SUFFIXES[0]]
    if metric.endswith(SEED_MEAN):
        keys.append(metric[: -len(SEED_MEAN)] + SEED_SD)
    return keys + [metric + s for s in SPREAD_SUFFIXES[1:]]


def companion_of(key: str, keys: set[str]) -> str | None:
    """The metric in ``keys`` whose uncertainty ``key`` is (``fid_ci_low`` -> ``fid``), else None."""
    if key.endswith(SEED_SD) and key[: -len(SEED_SD)] + SEED_MEAN in keys:
        return key[: -len(SEED_SD)] + SEED_MEAN
    for suffix in (*CI_SUFFIXES, *SPREAD_SUFFIXES):
        if key.endswith(suffix) and key[: -len(suffix)] in keys:
            return key[: -len(suffix)]
    return None


def interval_of(metric: str, baseline: Mapping[str, Any]) -> tuple[tuple[float, float], str] | None:
    """The baseline's interval for ``metric`` and the rule that gave it (see the module docstring)."""
    low, high = (baseline.get(metric + s) for s in CI_SUFFIXES)
    if _finite(low) and _finite(high):
        return (float(low), float(high)), "ci"
    value = baseline.get(metric)
    if not _finite(value):
        return None
    for key in spread_keys(metric):
        s = baseline.get(key)
        if _finite(s) and s >= 0:
            return (value - SPREAD_WIDTH * s, value + SPREAD_WIDTH * s), f"2 x {key}"
    return None


def judge(model: str, metric: str, baseline: Any, run: Any, interval: tuple[tuple[float, float], str] | None, note: str | None = None) -> Row:
    """The verdict on one key whose value is ``baseline`` there and ``run`` here."""
    bounds, rule = interval if interval is not None else (None, None)
    row = Row(model, metric, NO_INTERVAL, run, baseline, bounds, rule, note)
    if identical(baseline, run):
        return Row(model, metric, IDENTICAL, run, baseline, bounds, rule, note)
    if (baseline is None) != (run is None) and (baseline is None or _number(baseline)) and (run is None or _number(run)):
        return Row(model, metric, OUTSIDE, run, baseline, bounds, rule, note)
    if bounds is None or not _number(run):
        return row
    inside = bounds[0] <= run <= bounds[1]
    return Row(model, metric, WITHIN if inside else OUTSIDE, run, baseline, bounds, rule, note)


def _note(key: str, *files: Mapping[str, Any]) -> str | None:
    for f in files:
        notes = f.get("notes")
        if isinstance(notes, Mapping) and notes.get(key):
            return str(notes[key])
    return None


def compare_model(model: str, baseline: Mapping[str, Any], run: Mapping[str, Any], into: Comparison | None = None) -> Comparison:
    """Compare one model's metrics file (parsed JSON) from a run with the baseline's."""
    out = into if into is not None else Comparison()
    keys = set(baseline) | set(run)
    for key in [*baseline, *(k for k in run if k not in baseline)]:  # the baseline's order, new keys last
        b, r = baseline.get(key), run.get(key)
        if isinstance(b, (Mapping, list)) or isinstance(r, (Mapping, list)):
            out.skipped.append(f"{model}.{key}")
        elif is_timing(key):
            out.timings.append(Row(model, key, "timing", r, b))
        elif companion_of(key, keys) is not None:
            out.companions += 1
        elif key not in run:
            out.rows.append(Row(model, key, ONLY_BASELINE, None, b, note=_note(key, baseline)))
        elif key not in baseline:
            out.rows.append(Row(model, key, ONLY_RUN, r, None, note=_note(key, run)))
        else:
            note = _note(key, run, baseline) if b is None or r is None else None
            out.rows.append(judge(model, key, b, r, interval_of(key, baseline), note))
    return out


def wilson_interval(p: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval for a proportion ``p`` of ``n`` trials (Wilson 1927):
    ``(p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)``."""
    if not 0.0 <= p <= 1.0 or n < 1:
        raise ValueError(f"a proportion in [0, 1] of n >= 1 trials is needed, got p={p}, n={n}")
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


def compare_card(baseline: Mapping[str, Any], run: Mapping[str, Any]) -> Row:
    """The evaluator card's ``test_accuracy``, judged by the Wilson interval on the baseline's ``test_size``."""
    b, r, n = baseline.get(CARD_KEY), run.get(CARD_KEY), baseline.get("test_size")
    if CARD_KEY not in run:
        return Row(CARD_ROW, CARD_KEY, ONLY_BASELINE, None, b)
    if CARD_KEY not in baseline:
        return Row(CARD_ROW, CARD_KEY, ONLY_RUN, r, None)
    interval = None
    if _finite(b) and 0 <= b <= 1 and isinstance(n, int) and not isinstance(n, bool) and n >= 1:
        interval = (wilson_interval(float(b), n), "wilson")
    return judge(CARD_ROW, CARD_KEY, b, r, interval)


def compare_runs(baseline: Mapping[str, Mapping[str, Any]], run: Mapping[str, Mapping[str, Any]],
                 baseline_card: Mapping[str, Any] | None = None, run_card: Mapping[str, Any] | None = None) -> Comparison:  # fmt: skip
    """Compare every model present on both sides (by name); a model on one side only is a note,
    so is a card on one side only."""
    out = Comparison()
    for model in sorted(set(baseline) | set(run)):
        if model not in run:
            out.notes.append(f"{model}: only in baseline (not compared)")
        elif model not in baseline:
            out.notes.append(f"{model}: only in run (not compared)")
        else:
            compare_model(model, baseline[model], run[model], out)
    if baseline_card is not None and run_card is not None:
        out.rows.append(compare_card(baseline_card, run_card))
    elif baseline_card is not None or run_card is not None:
        side = "baseline" if run_card is None else "run"
        out.notes.append(f"evaluator card: only in {side} (not compared)")
    return out


def _fmt(v: Any) -> str:
    if v is None:
        return "null"
    return f"{v:.6g}" if _number(v) else str(v)


def describe(row: Row) -> str:
    """One line for a row: ``model  metric  verdict  details``."""
    detail = ""
    if row.verdict in (WITHIN, OUTSIDE, NO_INTERVAL):
        detail = f"{_fmt(row.run)} (baseline {_fmt(row.baseline)}"
        if row.interval is not None:
            detail += f", interval [{_fmt(row.interval[0])}, {_fmt(row.interval[1])}] by {row.rule}"
        detail += ")"
    elif row.verdict == ONLY_RUN:
        detail = _fmt(row.run)
    elif row.verdict == ONLY_BASELINE:
        detail = _fmt(row.baseline)
    if row.note:
        detail = f"{detail} [{row.note}]".strip()
    return f"{row.model:<16} {row.metric:<28} {row.verdict:<16} {detail}".rstrip()


def summary_line(c: Comparison) -> str:
    """The counts: ``summary: 120 identical, 3 within, 0 outside, ... (N timings, M uncertainty keys not compared)``."""
    counts = ", ".join(f"{n} {v}" for v, n in c.counts().items())
    return f"summary: {counts}; not compared: {len(c.timings)} timings, {c.companions} uncertainty keys, {len(c.skipped)} nested blocks"


def text_lines(c: Comparison) -> list[str]:
    """The human-readable report: one line per row, the timings, the notes, the summary."""
    lines = [describe(r) for r in c.rows]
    if c.timings:
        lines.append("timings, not compared:")
        lines += [f"  {t.model:<14} {t.metric:<28} {_fmt(t.run)} (baseline {_fmt(t.baseline)})" for t in c.timings]
    lines += c.notes
    lines.append(summary_line(c))
    return lines


def as_json(c: Comparison) -> dict[str, Any]:
    """The comparison for scripts: rows, timings, notes, skipped blocks, counts."""
    return {
        "rows": [asdict(r) for r in c.rows],
        "timings": [{"model": t.model, "metric": t.metric, "run": t.run, "baseline": t.baseline} for t in c.timings],
        "notes": list(c.notes),
        "skipped": list(c.skipped),
        "uncertainty_keys": c.companions,
        "counts": c.counts(),
        "outside": c.outside,
    }
