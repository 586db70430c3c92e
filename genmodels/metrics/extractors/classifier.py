"""The default domain feature network: a small CNN classifier trained on the dataset itself.

IS uses its logits, FID/KID/PRDC its penultimate ``features``, and PPL the unit-normalised
activations of its three conv blocks (an LPIPS-style distance without learned weights).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genmodels.metrics.features import FeatureExtractor, register_feature_extractor


def _block(cin: int, cout: int, pool: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=1), nn.SiLU(), nn.Conv2d(cout, cout, 3, padding=1), nn.SiLU()]
    if pool:
        layers.append(nn.AvgPool2d(2))
    return nn.Sequential(*layers)


@register_feature_extractor("classifier")
class ClassifierExtractor(FeatureExtractor):
    feature_layers = ("block1", "block2", "block3", "features", "logits")
    perceptual_layers = ("block1", "block2", "block3")

    def __init__(self, shape: list[int], num_classes: int, width: int = 32, feature_dim: int = 128) -> None:
        super().__init__(shape=list(shape), num_classes=num_classes, width=width, feature_dim=feature_dim)
        c, h, _ = shape
        sizes = [h, h // 2 if h > 4 else h]
        self.block1 = _block(c, width, pool=sizes[0] > 4)
        self.block2 = _block(width, 2 * width, pool=sizes[1] > 4)
        self.block3 = _block(2 * width, 4 * width, pool=False)
        self.head = nn.Sequential(nn.Linear(4 * width, feature_dim), nn.SiLU())
        self.classify = nn.Linear(feature_dim, num_classes)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        b1 = self.block1(x)
        b2 = self.block2(b1)
        b3 = self.block3(b2)
        feats = self.head(b3.mean(dim=(2, 3)))
        return {"block1": b1, "block2": b2, "block3": b3, "features": feats, "logits": self.classify(feats)}


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
    """Cross-entropy training with AdamW and a cosine schedule; deterministic for a seed."""
    torch.manual_seed(seed)
    model = ClassifierExtractor(list(x.shape[1:]), num_classes, width, feature_dim).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * max(1, -(-len(x) // batch_size)))
    xt, yt = torch.from_numpy(x).float(), torch.from_numpy(y).long()
    rng = np.random.default_rng(seed)
    model.train()
    for _ in range(epochs):
        order = torch.from_numpy(rng.permutation(len(x)))
        for s in range(0, len(x), batch_size):
            idx = order[s : s + batch_size]
            xb, yb = xt[idx].to(device), yt[idx].to(device)
            # light augmentation: random shifts of one pixel keep the features translation-robust
            shift = tuple(int(v) for v in rng.integers(-1, 2, size=2))
            xb = torch.roll(xb, shifts=shift, dims=(2, 3))
            loss = F.cross_entropy(model(xb)["logits"], yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


@torch.inference_mode()
def accuracy(model: ClassifierExtractor, x: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> float:
    device = next(model.parameters()).device
    hits = 0
    for s in range(0, len(x), batch_size):
        logits = model(torch.from_numpy(x[s : s + batch_size]).float().to(device))["logits"]
        hits += int((logits.argmax(1).cpu() == torch.from_numpy(y[s : s + batch_size])).sum())
    return hits / len(x)
