"""The default domain feature network: a small CNN classifier trained on the dataset itself.

IS uses its logits, FID/KID/PRDC its penultimate ``features`` (after ReLU, like the
Inception pool3 features), and PPL the unit-normalised activations of its conv blocks
(an LPIPS-style distance without learned weights, Zhang et al. 2018).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genmodels.errors import ConfigError
from genmodels.metrics.features import FeatureExtractor, register_feature_extractor


def n_blocks(height: int, width: int) -> int:
    """Conv blocks (each followed by 2x max-pooling): 2 for 8x8, 3 for 16x16 and larger."""
    side = min(height, width)
    return max(1, min(3, int(math.log2(side / 2)))) if side >= 4 else 1


@register_feature_extractor("classifier")
class ClassifierExtractor(FeatureExtractor):
    feature_layers = ("block1", "block2", "block3", "features", "logits")
    perceptual_layers = ("block1", "block2", "block3")
    auto_for = ("image",)

    @classmethod
    def build(cls, data: Any, cfg: Any, seed: int, device: torch.device) -> tuple[FeatureExtractor, dict[str, Any]]:
        """Train the classifier on the training split; the card records its validation accuracy."""
        info = data.info
        if info.kind != "image" or data.train.y is None or not info.num_classes:
            raise ConfigError("evaluator.extractor: 'classifier' needs labelled image data")
        model = train_classifier(
            data.train.x, data.train.y, info.num_classes, epochs=cfg.epochs, batch_size=cfg.batch_size,
            lr=cfg.lr, width=cfg.width, feature_dim=cfg.feature_dim, seed=seed, device=str(device),
        )  # fmt: skip
        acc = accuracy(model, data.test.x, data.test.y)
        return model, {"extractor": cls.name, "test_accuracy": acc, "feature_dim": cfg.feature_dim}

    def __init__(self, shape: list[int], num_classes: int, width: int = 32, feature_dim: int = 128) -> None:
        super().__init__(shape=list(shape), num_classes=num_classes, width=width, feature_dim=feature_dim)
        c, h, w = shape
        blocks, cin = [], c
        for i in range(n_blocks(h, w)):
            cout = width * 2**i
            blocks.append(nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU()))
            cin, h, w = cout, h // 2, w // 2
        self.blocks = nn.ModuleList(blocks)
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(cin * h * w, feature_dim), nn.ReLU())
        self.classify = nn.Linear(feature_dim, num_classes)
        # Features are rescaled to unit RMS per dimension on the training data (set after
        # training), so KID's kernel (x.y/d + 1)^3 sees O(1) inner products as with Inception.
        self.register_buffer("feature_scale", torch.ones(()))
        names = tuple(f"block{i + 1}" for i in range(len(blocks)))
        self.feature_layers = (*names, "features", "logits")  # type: ignore[misc]
        self.perceptual_layers = names  # type: ignore[misc]

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        for i, block in enumerate(self.blocks):
            x = block(x)
            out[f"block{i + 1}"] = x
            x = self.pool(x)
        hidden = self.head(x)
        out["logits"] = self.classify(hidden)
        out["features"] = hidden * self.feature_scale
        return out


def train_classifier(
    x: np.ndarray,
    y: np.ndarray,
    num_classes: int,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    width: int,
    feature_dim: int,
    seed: int,
    device: str = "cpu",
) -> ClassifierExtractor:
    """Cross-entropy training with AdamW and a per-step cosine schedule; deterministic for a seed."""
    torch.manual_seed(seed)
    model = ClassifierExtractor(list(x.shape[1:]), num_classes, width, feature_dim).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * max(1, -(-len(x) // batch_size)))
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.long)
    rng = np.random.default_rng(seed)
    model.train()
    for _ in range(epochs):
        order = torch.from_numpy(rng.permutation(len(x)))
        for s in range(0, len(x), batch_size):
            idx = order[s : s + batch_size]
            xb, yb = xt[idx].to(device), yt[idx].to(device)
            loss = F.cross_entropy(model(xb)["logits"], yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    with torch.no_grad():
        feats = torch.cat([model(xt[s : s + 500].to(device))["features"] for s in range(0, len(xt), 500)])
        model.feature_scale.fill_(float(1.0 / feats.pow(2).mean().sqrt().clamp_min(1e-8)))
    return model


@torch.inference_mode()
def accuracy(model: ClassifierExtractor, x: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> float:
    device = next(model.parameters()).device
    hits = 0
    for s in range(0, len(x), batch_size):
        logits = model(torch.tensor(x[s : s + batch_size], dtype=torch.float32, device=device))["logits"]
        hits += int((logits.argmax(1).cpu() == torch.from_numpy(y[s : s + batch_size])).sum())
    return hits / len(x)
