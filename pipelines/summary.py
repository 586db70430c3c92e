"""The headline of a row: the leaderboard's metrics in one line, as MLflow and the report show them first."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# (key, label): FID with its interval first, then likelihood, IS, precision/recall and PPL
HEADLINE: tuple[tuple[str, str], ...] = (
    ("fid", "FID"),
    ("nll_bits_per_dim", "NLL bits/dim"),
    ("is", "IS"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("ppl", "PPL"),
)


def number(v: float | None) -> str:
    """A compact number: 4 significant digits, "—" for undefined."""
    if v is None:
        return "—"
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.4g}"


def value_with_interval(m: Mapping[str, Any], key: str) -> str:
    """``12.3 [11.2, 13.4]`` (95 % bootstrap interval) or the bare value."""
    v, lo, hi = m.get(key), m.get(f"{key}_ci_low"), m.get(f"{key}_ci_high")
    if v is not None and lo is not None and hi is not None:
        return f"{number(v)} [{number(lo)}, {number(hi)}]"
    return number(v)


def headline(m: Mapping[str, Any]) -> str:
    """One markdown line: ``**FID** 12.3 [11.2, 13.4] · **NLL bits/dim** 2.31 · ...``."""
    return " · ".join(f"**{label}** {value_with_interval(m, key)}" for key, label in HEADLINE)
