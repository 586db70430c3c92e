"""The metric suite: every registered metric over one set of samples (and optionally a model).

Sample metrics need only two sample sets and a feature extractor (``genmodels metrics``);
model metrics (PPL, likelihood, anomaly AUROC, throughput) also need the trained model.
Every registered key is always present; an undefined one is ``None`` with the reason in
``notes``. What runs, in which order and under which keys comes from
:mod:`genmodels.metrics.registry`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genmodels.metrics.features import FeatureExtractor, extract
from genmodels.metrics.registry import NEEDS, EvalInputs, Undefined, _metrics, metric_keys


def real_layers(extractor: FeatureExtractor) -> tuple[str, ...]:
    return ("features", "logits") if extractor.has_logits else ("features",)


@dataclass
class MetricReport:
    metrics: dict[str, float | None] = field(default_factory=lambda: {k: None for k in metric_keys()})
    notes: dict[str, str] = field(default_factory=dict)
    extra: dict[str, float] = field(default_factory=dict)  # supporting numbers (e.g. nll std error)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # per-resample values (bootstrap), saved beside the JSON

    def null(self, keys: tuple[str, ...] | str, reason: str) -> None:
        for k in (keys,) if isinstance(keys, str) else keys:
            self.metrics[k] = None
            self.notes[k] = reason

    def as_json(self) -> dict[str, Any]:
        missing = {k: "not computed" for k, v in self.metrics.items() if v is None and k not in self.notes}
        return {**self.metrics, **self.extra, "notes": {**missing, **self.notes}}


def run_metrics(inputs: EvalInputs) -> MetricReport:
    """Fill a report with every registered metric that applies to ``inputs``."""
    report = MetricReport()
    have = inputs.available()
    for metric in _metrics():
        keys = tuple(k.name for k in metric.keys)
        missing = [n for n in NEEDS if n in metric.needs and n not in have]
        if missing:
            report.null(keys, NEEDS[missing[0]])
            continue
        try:
            values = dict(metric.compute(inputs))
        except Undefined as exc:
            report.null(keys, str(exc))
            continue
        report.notes.update(values.pop("notes", {}))
        report.arrays.update(values.pop("arrays", {}))
        for k, v in values.items():
            (report.metrics if k in keys else report.extra)[k] = None if v is None else float(v)
    if inputs.model is not None:
        report.extra.update(inputs.model.evaluation_extras())
    return report


def evaluate(
    real: dict[str, np.ndarray],
    fake_x: np.ndarray,
    extractor: FeatureExtractor,
    info: Any,
    cfg: Any,
    seed: int,
    real_labels: np.ndarray | None = None,
    model: Any = None,
    test_x: np.ndarray | None = None,
    history: list[dict[str, float]] | None = None,
    train_x: np.ndarray | None = None,
    train_features: np.ndarray | None = None,
    test_y: np.ndarray | None = None,
    holdout_model: Any = None,
    restoration: dict[str, Any] | None = None,
) -> tuple[MetricReport, dict[str, np.ndarray]]:
    """Extract the samples' features, run every metric; returns the report and the fake features."""
    fake = extract(extractor, fake_x, real_layers(extractor), batch_size=cfg.batch_size)
    inputs = EvalInputs(real=real, fake=fake, fake_x=fake_x, info=info, cfg=cfg, seed=seed, extractor=extractor,
                        real_labels=real_labels, model=model, test_x=test_x, history=history,
                        train_x=train_x, train_features=train_features, test_y=test_y, holdout_model=holdout_model,
                        restoration=restoration)  # fmt: skip
    return run_metrics(inputs), fake
