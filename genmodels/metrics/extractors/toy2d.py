"""Features for 2-D point data: the coordinates themselves; logits = log mixture posterior.

For a Gaussian mixture with known means, shared isotropic std and weights, the "class
posterior" that IS needs is the component posterior ``p(k|x)``; we return its logarithm.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from genmodels.metrics.features import FeatureExtractor, register_feature_extractor


@register_feature_extractor("toy2d")
class Toy2dExtractor(FeatureExtractor):
    perceptual_layers = ("features",)
    auto_for = ("points",)

    @classmethod
    def build(cls, data: Any, cfg: Any, seed: int, device: torch.device) -> tuple[FeatureExtractor, dict[str, Any]]:
        extra = data.info.extra
        return cls(extra.get("means"), extra.get("std", 1.0), extra.get("weights")), {"extractor": cls.name, "mixture": extra.get("means") is not None}

    def __init__(self, means: list[list[float]] | None = None, std: float = 1.0, weights: list[float] | None = None) -> None:
        super().__init__(means=means, std=std, weights=weights)
        self.has_mixture = means is not None
        m = torch.tensor(means if means is not None else [[0.0, 0.0]], dtype=torch.float64)
        w = torch.tensor(weights if weights is not None else [1.0] * len(m), dtype=torch.float64)
        self.register_buffer("means", m)
        self.register_buffer("log_weights", torch.log(w / w.sum()))
        self.std = float(std)
        # an empty parameter list would hide the device; keep a zero-size buffer for .to()
        self.register_buffer("_anchor", torch.zeros(0))

    @property
    def feature_layers(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("features", "logits") if self.has_mixture else ("features",)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        x = x.flatten(1)
        out = {"features": x}
        if self.has_mixture:
            d2 = torch.cdist(x.double(), self.means) ** 2
            log_joint = self.log_weights - 0.5 * d2 / self.std**2 - 2 * math.log(self.std)
            out["logits"] = (log_joint - torch.logsumexp(log_joint, dim=1, keepdim=True)).float()
        return out
