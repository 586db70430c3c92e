"""Costs: training seconds (from the history) and sampling throughput."""

from __future__ import annotations

import time

import torch

from genmodels.metrics.builtin.model_based import generator
from genmodels.metrics.registry import EvalInputs, MetricKey, register_metric

ORDER = 50  # where these keys stand among the built-ins' (see genmodels.metrics.builtin)


@register_metric("train_seconds", [MetricKey("train_seconds", None, "seconds spent in training epochs (excludes start-up and checkpoints)")], needs={"model", "history"})
def train_seconds(inp: EvalInputs) -> dict[str, float]:
    return {"train_seconds": inp.history[-1]["train_seconds"]}


@register_metric("samples_per_second", [MetricKey("samples_per_second", None, "sampling throughput on the evaluation device")], needs={"model"})
@torch.no_grad()
def samples_per_second(inp: EvalInputs) -> dict[str, float]:
    model, n, bs = inp.model, inp.cfg.throughput_samples, inp.cfg.batch_size
    model.sample(min(n, 16), generator(inp, 5))  # warm-up
    t0 = time.perf_counter()
    for s in range(0, n, bs):
        model.sample(min(bs, n - s), generator(inp, 6))
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    return {"samples_per_second": n / (time.perf_counter() - t0)}
