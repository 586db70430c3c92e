"""All tasks of one row (a model or a reference restorer): corrupt, restore, score.

:func:`restore_subset` picks the seeded subset of test images every row restores;
:func:`run_tasks` corrupts it once per task (the same observations for every row), calls the
row's restorer, scores the result (:func:`~genmodels.restoration.scores.task_scores`) and
records a task the row cannot do as null keys with the reason. Pure apart from the restorer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from genmodels.restoration.base import Restoration, Undefined
from genmodels.restoration.names import metric_keys
from genmodels.restoration.scores import Classifier, Features, task_scores
from genmodels.restoration.tasks import Observation, Task, get_task

#: ``(task, observation) -> Restoration``; raises :class:`Undefined` for a task it cannot do.
RowRestorer = Callable[[Task, Observation], Restoration]


@dataclass
class RowResult:
    """``metrics``: every task's keys (null where undefined); ``notes``: the reason per null key;
    ``methods``: per task key, how it was restored (or why not); ``seconds``: restoration time per
    task key; ``restored``: per task name, (observation, restoration) for pictures and arrays."""

    metrics: dict[str, float | None] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    methods: dict[str, dict] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    restored: dict[str, tuple[Observation, Restoration]] = field(default_factory=dict)


def restore_subset(n_total: int, n_images: int, seed: int) -> np.ndarray:
    """Sorted indices of the ``min(n_images, n_total)`` test images restored (seeded, without replacement)."""
    if n_images >= n_total:
        return np.arange(n_total)
    return np.sort(np.random.default_rng(seed).choice(n_total, n_images, replace=False))


def run_tasks(
    restorer: RowRestorer, clean: Tensor, tasks: list[str], seed: int, labels: Tensor | None = None,
    classify: Classifier | None = None, features: Features | None = None,
) -> RowResult:
    """Restore and score ``clean`` (``(n, C, H, W)`` in [0, 1]) under every task (observations seeded by ``seed``)."""
    out = RowResult()
    for name in tasks:
        task = get_task(name)
        obs = task.corrupt(clean, seed)
        started = time.perf_counter()
        try:
            result = restorer(task, obs)
        except Undefined as exc:
            reason = str(exc)
            out.metrics.update({k: None for k in metric_keys(name)})
            out.notes.update({k: reason for k in metric_keys(name)})
            out.methods[task.key] = {"method": None, "exact": None, "undefined": reason}
            continue
        out.seconds[task.key] = time.perf_counter() - started
        completions = result.completions if task.kind == "inpaint" else None
        scores = task_scores(task.key, clean, result.mean, seed, labels, classify, completions, features)
        for key in metric_keys(name):
            out.metrics[key] = scores.get(key)
            if key not in scores:
                out.notes[key] = _missing_reason(key, labels, classify, features, result)
        out.methods[task.key] = {"method": result.method, "exact": result.exact}
        out.restored[name] = (obs, result)
    return out


def undefined_row(tasks: list[str], reason: str) -> RowResult:
    """Every key of every task null with ``reason`` (e.g. data that are not images)."""
    out = RowResult()
    for name in tasks:
        out.metrics.update({k: None for k in metric_keys(name)})
        out.notes.update({k: reason for k in metric_keys(name)})
        out.methods[get_task(name).key] = {"method": None, "exact": None, "undefined": reason}
    return out


def _missing_reason(key: str, labels: Tensor | None, classify: Classifier | None, features: Features | None, result: Restoration) -> str:
    if "_accuracy" in key:
        return "needs labelled test images and a classifying evaluator" if labels is None or classify is None else "not computed"
    if key.endswith("_fid"):
        return "needs the evaluator's features" if features is None else "the restorer returns no completions"
    return "not computed"


def arrays(result: RowResult, index: np.ndarray) -> dict[str, np.ndarray]:
    """Per task: the restored means (``<task>/mean``), the completions (``<task>/completions``) and
    the test indices restored (``index``), for ``restorations/<row>.npz``."""
    out: dict[str, np.ndarray] = {"index": np.asarray(index, dtype=np.int64)}
    for name, (_, res) in result.restored.items():
        out[f"{name}/mean"] = res.mean.detach().cpu().float().numpy()
        if res.completions is not None:
            out[f"{name}/completions"] = res.completions.detach().cpu().float().numpy()
    return out


def shown(obs: Observation, k: int) -> Tensor:
    """The first ``k`` observations as full-size images (pooled ones upsampled by repetition; missing pixels black)."""
    y = obs.y[:k].detach().cpu().float()
    if obs.kind == "pool":
        y = torch.nn.functional.interpolate(y, scale_factor=obs.factor, mode="nearest")
    return y.clamp(0.0, 1.0)


def picture_rows(obs: Observation, result: Restoration, clean: Tensor, k: int) -> np.ndarray:
    """``(3, k, C, H, W)``: the corrupted, restored and clean images of the first ``k`` test images."""
    k = min(k, len(clean))
    return np.stack([shown(obs, k).numpy(), result.mean[:k].detach().cpu().float().numpy(), clean[:k].detach().cpu().float().numpy()])
