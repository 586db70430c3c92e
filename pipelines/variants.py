"""The extra models a model's stages build when params ask: more training seeds, a held-out class.

``seeds: [s0, s1, ...]`` (s0 is the root ``seed``): ``train@<m>`` trains the main model with
s0 into ``models/<m>/`` as before, and one more per extra seed s into
``models/<m>/seeds/<s>/`` with the training seed s — the weights ``train@<m>`` produces under
``seed: s`` on the same prepared split (the same checkpoint run, so an earlier ``seed: s``
run resumes instead of retraining). ``evaluate@<m>`` draws each seed's samples as
``sample@<m>`` would under ``seed: s`` and scores them. The split, the evaluator and the
evaluation's own seed stay the root seed's: the spread across seeds is the training's alone.

``evaluate.holdout_class: c``: ``train@<m>`` also trains a copy with the root seed on the
training and validation splits without class c, into ``models/<m>/holdout/``;
``evaluate@<m>`` scores class c's test images against the others with it. Skipped for a
family without an anomaly score (its ``anomaly_auroc`` is null anyway).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genmodels.config import Params
from genmodels.data import Samples
from genmodels.data.base import DatasetInfo
from genmodels.errors import ConfigError
from genmodels.models.core.base import GenerativeModel
from genmodels.models.core.registry import model_class
from pipelines import paths


@dataclass(frozen=True)
class Variant:
    """One extra training of a model: its seed, the class it leaves out, its folder in models/<m>/."""

    label: str  # for logs and MLflow: "seed 1", "holdout class 3"
    folder: Path  # relative to models/<m>/
    seed: int
    exclude_class: int | None = None


def seed_variants(p: Params) -> list[Variant]:
    """One per seed after the first (the main model is the first seed's)."""
    return [Variant(f"seed {s}", paths.seed_subdir(s), s) for s in p.seeds[1:]]


def has_anomaly_score(family: str) -> bool:
    """Whether the family scores anomalies (a likelihood, or its own ``anomaly_score``)."""
    cls = model_class(family)
    return cls.likelihood_kind is not None or cls.anomaly_score is not GenerativeModel.anomaly_score


def holdout_variant(p: Params, name: str, info: DatasetInfo, labels: np.ndarray | None) -> Variant | None:
    """The held-out-class copy params ask for, or None; a class the data lacks is a ConfigError."""
    cls = p.evaluate.holdout_class
    if cls is None or not has_anomaly_score(p.spec(name).family):
        return None
    if labels is None or not info.num_classes:
        raise ConfigError(f"evaluate.holdout_class: dataset {info.name!r} has no class labels to hold one out")
    present = np.unique(labels)
    if cls not in present:
        raise ConfigError(f"evaluate.holdout_class: {cls} is not a class of the training split (classes: {', '.join(map(str, present))})")
    if len(present) < 2:
        raise ConfigError(f"evaluate.holdout_class: the training split has class {cls} only; nothing would be left to train on")
    return Variant(f"holdout class {cls}", paths.HOLDOUT_SUBDIR, p.seed, cls)


def drop_class(samples: Samples, cls: int | None) -> Samples:
    """``samples`` without the rows of class ``cls`` (all of them when ``cls`` is None)."""
    if cls is None:
        return samples
    if samples.y is None:
        raise ConfigError("evaluate.holdout_class: the split has no class labels")
    keep = samples.y != cls
    return Samples(x=samples.x[keep], y=samples.y[keep])


def load_variant(model_dir: Path, folder: Path, device: object) -> GenerativeModel | None:
    """The variant's model, or None when train@<m> did not write it."""
    from genmodels.training.checkpoint import load_model

    path = model_dir / folder
    return load_model(path, device) if path.is_dir() else None
