"""Build the evaluator's feature extractor for a dataset (the ``evaluator`` stage's logic)."""

from __future__ import annotations

from typing import Any

from genmodels.data.base import PreparedData
from genmodels.errors import ConfigError
from genmodels.metrics.extractors.classifier import accuracy, train_classifier
from genmodels.metrics.extractors.inception import file_sha256, load_inception, resolve_weights_path
from genmodels.metrics.extractors.toy2d import Toy2dExtractor
from genmodels.metrics.features import FEATURE_EXTRACTORS, FeatureExtractor


def build_extractor(data: PreparedData, cfg: Any, seed: int, device: str = "cpu") -> tuple[FeatureExtractor, dict[str, Any]]:
    """Return the extractor and a card of facts about it (e.g. the classifier's test accuracy)."""
    import genmodels.metrics.extractors  # noqa: F401

    info = data.info
    name = cfg.extractor
    if name == "auto":
        name = "classifier" if info.kind == "image" else "toy2d"
    if name not in FEATURE_EXTRACTORS:
        raise ConfigError(f"evaluator.extractor: unknown feature extractor {name!r} (known: auto, {', '.join(FEATURE_EXTRACTORS.names())})")
    if name == "toy2d":
        extra = info.extra
        ex = Toy2dExtractor(extra.get("means"), extra.get("std", 1.0), extra.get("weights"))
        return ex, {"extractor": name, "mixture": extra.get("means") is not None}
    if name == "classifier":
        if info.kind != "image" or data.train.y is None or not info.num_classes:
            raise ConfigError("evaluator.extractor: 'classifier' needs labelled image data")
        model = train_classifier(
            data.train.x, data.train.y, info.num_classes, epochs=cfg.epochs, batch_size=cfg.batch_size,
            lr=cfg.lr, width=cfg.width, feature_dim=cfg.feature_dim, seed=seed, device=device,
        )  # fmt: skip
        acc = accuracy(model, data.test.x, data.test.y)
        return model, {"extractor": name, "test_accuracy": acc, "feature_dim": cfg.feature_dim}
    if name == "inception-v3-compat":
        if info.kind != "image" or len(info.shape) != 3 or info.shape[0] not in (1, 3):
            raise ConfigError(f"evaluator.extractor: 'inception-v3-compat' needs 1- or 3-channel images, got {info.kind} {list(info.shape)}")
        path = resolve_weights_path(cfg.inception_weights)
        model = load_inception(path, device=device)
        return model, {"extractor": name, "weights": str(path), "weights_sha256": file_sha256(path)}
    raise ConfigError(f"evaluator.extractor: {name!r} cannot be built by the evaluator stage")
