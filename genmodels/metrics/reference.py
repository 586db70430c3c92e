"""Real-data reference statistics stored beside the evaluator (``reference.npz``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genmodels.errors import DataError
from genmodels.metrics.features import FeatureExtractor, extract
from genmodels.metrics.fid import feature_statistics


def compute_reference(extractor: FeatureExtractor, x: np.ndarray, y: np.ndarray | None, train_x: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Features (and logits, labels, mu, sigma) of the real test set; ``train_features`` of the
    training split too when given (the memorisation audit compares samples with them)."""
    layers = ("features", "logits") if extractor.has_logits else ("features",)
    ref = extract(extractor, x, layers)
    ref["mu"], ref["sigma"] = feature_statistics(ref["features"])
    if y is not None:
        ref["labels"] = y
    if train_x is not None:
        ref["train_features"] = extract(extractor, train_x, ("features",))["features"]
    return ref


def real_features(ref: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The extractor outputs of the real test set (``features``, and ``logits`` where present)."""
    return {k: ref[k] for k in ("features", "logits") if k in ref}


def save_reference(path: Path, ref: dict[str, np.ndarray]) -> None:
    np.savez(path, **ref)


def load_reference(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise DataError(f"reference statistics not found: {path} (run the 'evaluator' stage first)")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read reference statistics {path}: {exc}") from None
