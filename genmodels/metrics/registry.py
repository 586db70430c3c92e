"""The metric registry: what each metric needs, which keys it writes and which way is better.

Every key of ``metrics/<model>.json``, the leaderboard's columns, tune's allowed objectives
and the metric table of docs/leaderboard.md derive from the registrations, in the metrics' order (the
``ORDER`` of each built-in module, then registration order; see :mod:`genmodels.metrics.builtin`). A
metric is a function of :class:`EvalInputs` that returns its keys' values (and optionally
supporting numbers under other names, written beside them); it raises :class:`Undefined`
with the reason when the metric does not apply, and the suite writes its keys as ``null``
with that reason under ``notes``. Built-ins register through the same public call::

    @register_metric("my_metric", keys=[MetricKey("my_metric", better="lower")], needs={"features"})
    def my_metric(inp: EvalInputs) -> dict[str, float]:
        return {"my_metric": float(...)}
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from genmodels.registry import Registry

Better = Literal["lower", "higher"]

#: What a metric may need; the suite checks availability before calling it.
NEEDS: dict[str, str] = {
    "samples": "needs the samples",
    "features": "needs the extractor's features of the samples",
    "logits": "needs an extractor with class logits",
    "labels": "needs labelled real data",
    "model": "needs the model, not only samples",
    "history": "needs the model's training history",
    "train": "needs the training split (data and features)",
    "test": "needs the real test split in data space",
    "restoration": "needs the restore@<model> results",
}


class Undefined(Exception):
    """Raised by a metric that does not apply; the message is the reason written to ``notes``."""


@dataclass(frozen=True)
class MetricKey:
    name: str  # the key in metrics/<model>.json and MLflow
    better: Better | None = None  # None: not ranked (spreads, costs, counts)
    doc: str = ""  # one line for the metric table of docs/leaderboard.md
    column: bool = True  # a column of the markdown leaderboard (intervals are shown beside their metric instead)


@dataclass(frozen=True)
class Metric:
    name: str
    keys: tuple[MetricKey, ...]
    needs: frozenset[str]
    compute: Callable[["EvalInputs"], Mapping[str, float | None]]
    per_epoch: bool = False  # cheap enough, and needs only sample features: allowed as a tune objective


@dataclass
class EvalInputs:
    """Everything a metric may read. Optional parts are None when the caller has no model."""

    real: dict[str, np.ndarray]  # extractor outputs of the real reference set ("features", maybe "logits")
    fake: dict[str, np.ndarray]  # the same for the samples
    fake_x: np.ndarray  # the samples in data space
    info: Any  # genmodels.data.base.DatasetInfo
    cfg: Any  # genmodels.metrics.config.EvaluateConfig
    seed: int
    extractor: Any  # genmodels.metrics.features.FeatureExtractor
    real_labels: np.ndarray | None = None
    model: Any = None  # genmodels.models.core.base.GenerativeModel
    test_x: np.ndarray | None = None  # real test data in data space (likelihood, OOD)
    test_y: np.ndarray | None = None  # its class labels, where the dataset has them (held-out-class OOD)
    holdout_model: Any = None  # the model retrained without class ``cfg.holdout_class`` (None: not trained)
    history: list[dict[str, float]] | None = None  # the model's per-epoch training history
    train_x: np.ndarray | None = None  # the training split in data space (memorisation audit)
    train_features: np.ndarray | None = None  # its extractor features
    restoration: dict[str, Any] | None = None  # the restore@<model> results (restorations/<model>.json)
    cache: dict[str, Any] = field(default_factory=dict)  # shared work between metrics (e.g. k-NN blocks)

    def available(self) -> set[str]:
        have = {"samples", "features"}
        have |= {"logits"} if "logits" in self.fake else set()
        have |= {"labels"} if self.real_labels is not None else set()
        have |= {"model"} if self.model is not None and self.test_x is not None else set()
        have |= {"history"} if self.history else set()
        have |= {"train"} if self.train_x is not None and self.train_features is not None else set()
        have |= {"test"} if self.test_x is not None else set()
        have |= {"restoration"} if self.restoration is not None else set()
        return have


METRICS: Registry[Metric] = Registry("metric", package="genmodels.metrics.builtin")


def register_metric(
    name: str, keys: Iterable[MetricKey], needs: Iterable[str] = ("features",), per_epoch: bool = False
) -> Callable[[Callable[[EvalInputs], Mapping[str, float | None]]], Callable[[EvalInputs], Mapping[str, float | None]]]:
    """Decorator registering ``compute`` as metric ``name`` writing ``keys``.

    Its keys come after the built-ins' unless its module sets ``ORDER`` (see
    :mod:`genmodels.metrics.builtin`)."""
    keys, needs = tuple(keys), frozenset(needs)
    unknown = needs - set(NEEDS)
    if unknown:
        raise ValueError(f"metric {name!r}: unknown needs {sorted(unknown)} (known: {', '.join(NEEDS)})")
    if not keys:
        raise ValueError(f"metric {name!r} must declare at least one key")
    taken = {k.name for m in (METRICS.get(n) for n in METRICS.ordered()) if m.name != name for k in m.keys}
    clash = sorted(taken & {k.name for k in keys})
    if clash:
        raise ValueError(f"metric {name!r}: key(s) {clash} already written by another metric")

    def add(compute: Callable[[EvalInputs], Mapping[str, float | None]]) -> Callable[[EvalInputs], Mapping[str, float | None]]:
        METRICS.register(name)(Metric(name, keys, needs, compute, per_epoch))
        return compute

    return add


def unregister_metric(name: str) -> None:
    """Remove a metric (tests and plugins that register temporary ones)."""
    METRICS.unregister(name)


def _order(metric: Metric) -> float:
    """``ORDER`` of the module that defines ``metric`` (see :mod:`genmodels.metrics.builtin`); inf if none."""
    module = sys.modules.get(getattr(metric.compute, "__module__", None) or "")
    order = getattr(module, "ORDER", math.inf)
    if isinstance(order, bool) or not isinstance(order, (int, float)):
        raise TypeError(f"metric {metric.name!r}: ORDER of module {module.__name__!r} must be a number, got {order!r}")
    return order


def _metrics() -> list[Metric]:
    """Every registered metric: by the ``ORDER`` of its module, then in registration order."""
    return sorted((METRICS.get(n) for n in METRICS.ordered()), key=_order)  # sorted() is stable


def metric_keys() -> tuple[str, ...]:
    """Every key of ``metrics/<model>.json``, in the metrics' order."""
    return tuple(k.name for m in _metrics() for k in m.keys)


def key_specs() -> dict[str, MetricKey]:
    return {k.name: k for m in _metrics() for k in m.keys}


def tune_objectives() -> dict[str, Better]:
    """Keys a search may optimise each epoch: ranked keys of per-epoch sample metrics."""
    return {k.name: k.better for m in _metrics() if m.per_epoch for k in m.keys if k.better is not None}


def metric_of_key(key: str) -> Metric:
    for m in _metrics():
        if key in {k.name for k in m.keys}:
            return m
    raise KeyError(f"unknown metric key {key!r} (known: {', '.join(metric_keys())})")


def score_sample_metric(key: str, real: dict[str, np.ndarray], fake: dict[str, np.ndarray], cfg: Any, seed: int) -> float:
    """One per-epoch sample metric (a tune objective) from features alone."""
    metric = metric_of_key(key)
    inputs = EvalInputs(real=real, fake=fake, fake_x=np.empty((0,)), info=None, cfg=cfg, seed=seed, extractor=None)
    value = metric.compute(inputs)[key]
    return float("nan") if value is None else float(value)


def markdown_table() -> str:
    """The metric table of docs/leaderboard.md: key, better direction, what it needs, one line of meaning."""
    rows = ["| key | better | needs | meaning |", "|---|---|---|---|"]
    for m in _metrics():
        for k in (k for k in m.keys if k.column):
            rows.append(f"| `{k.name}` | {k.better or '—'} | {', '.join(sorted(m.needs))} | {k.doc} |")
        groups: dict[tuple[str, Better | None], list[str]] = {}  # e.g. intervals: one row per meaning
        for k in (k for k in m.keys if not k.column):
            groups.setdefault((k.doc, k.better), []).append(k.name)
        for (doc, better), names in groups.items():
            listed = ", ".join(f"`{n}`" for n in names)
            rows.append(f"| {listed} | {better or '—'} | {', '.join(sorted(m.needs))} | {doc} |")
    return "\n".join(rows)


if __name__ == "__main__":  # python -m genmodels.metrics.registry: the metric table of docs/leaderboard.md
    from genmodels.metrics import registry  # the importable module, where the built-ins register

    print(registry.markdown_table())
