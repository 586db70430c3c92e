"""Build the evaluator's feature extractor for a dataset (the ``evaluator`` stage's logic)."""

from __future__ import annotations

from typing import Any

import torch

from genmodels.data.base import PreparedData
from genmodels.errors import ConfigError
from genmodels.metrics.features import FEATURE_EXTRACTORS, FeatureExtractor


def resolve_extractor_name(name: str, kind: str) -> str:
    """``auto`` -> the registered extractor that declares itself the default for data of ``kind``."""
    if name == "auto":
        for candidate in FEATURE_EXTRACTORS.ordered():
            if kind in FEATURE_EXTRACTORS.get(candidate).auto_for:
                return candidate
        raise ConfigError(f"evaluator.extractor: no registered extractor is the default for {kind} data; name one ({', '.join(FEATURE_EXTRACTORS.names())})")
    if name not in FEATURE_EXTRACTORS:
        raise ConfigError(f"evaluator.extractor: unknown feature extractor {name!r} (known: auto, {', '.join(FEATURE_EXTRACTORS.names())})")
    return name


def build_extractor(data: PreparedData, cfg: Any, seed: int, device: torch.device | str = "cpu") -> tuple[FeatureExtractor, dict[str, Any]]:
    """Return the extractor and a card of facts about it (e.g. the classifier's test accuracy)."""
    cls = FEATURE_EXTRACTORS.get(resolve_extractor_name(cfg.extractor, data.info.kind))
    try:
        return cls.build(data, cfg, seed, torch.device(device))
    except NotImplementedError as exc:
        raise ConfigError(f"evaluator.extractor: {exc}") from None
