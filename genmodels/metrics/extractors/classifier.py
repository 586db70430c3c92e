"""The default domain feature network: a small CNN classifier trained on the dataset itself.

IS uses its logits, FID/KID/PRDC its penultimate ``features`` (after ReLU, like the
Inception pool3 features), and PPL the unit-normalised activations of its conv blocks
(an LPIPS-style distance without learned weights, Zhang et al. 2018).

Every convolution is batch-normalised before its ReLU (Ioffe & Szegedy 2015), and so is the
feature layer, without a learned scale and shift: after training, the normalisation
statistics are recomputed on the training images (:func:`recalibrate_batchnorm`), so each
feature's pre-activation has mean 0 and variance 1 there and no feature is dead (0 on every
image, invisible to FID/KID/PRDC; without normalisation about half of them are, on the
digits). Training can see small random translations and rotations of the images
(:mod:`.augment`; ``evaluator.max_shift``, ``evaluator.max_degrees``). The card records the
accuracy on the validation and test splits and how many features are constant on the test set.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genmodels.errors import ConfigError
from genmodels.metrics.extractors.augment import augment
from genmodels.metrics.features import FeatureExtractor, extract, register_feature_extractor

CONSTANT_STD = 1e-6  # a feature whose standard deviation over a data set is below this is constant on it


def n_blocks(height: int, width: int) -> int:
    """Conv blocks (each followed by 2x max-pooling): 2 for 8x8, 3 for 16x16 and larger."""
    side = min(height, width)
    return max(1, min(3, int(math.log2(side / 2)))) if side >= 4 else 1


def _conv(cin: int, cout: int, norm: bool) -> list[nn.Module]:
    """3x3 convolution (+ BatchNorm, which makes its bias redundant) + ReLU."""
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=not norm), *([nn.BatchNorm2d(cout)] if norm else []), nn.ReLU()]


@register_feature_extractor("classifier")
class ClassifierExtractor(FeatureExtractor):
    feature_layers = ("block1", "block2", "block3", "features", "logits")
    perceptual_layers = ("block1", "block2", "block3")
    auto_for = ("image",)

    @classmethod
    def build(cls, data: Any, cfg: Any, seed: int, device: torch.device) -> tuple[FeatureExtractor, dict[str, Any]]:
        """Train the classifier on the training split; the card records its validation and test
        accuracy and the number of features constant on the test set."""
        info = data.info
        if info.kind != "image" or data.train.y is None or not info.num_classes:
            raise ConfigError("evaluator.extractor: 'classifier' needs labelled image data")
        model = train_classifier(
            data.train.x, data.train.y, info.num_classes, epochs=cfg.epochs, batch_size=cfg.batch_size,
            lr=cfg.lr, width=cfg.width, feature_dim=cfg.feature_dim, seed=seed, device=str(device),
            max_shift=cfg.max_shift, max_degrees=cfg.max_degrees,
        )  # fmt: skip
        val = getattr(data, "val", None)
        labelled_val = val is not None and len(val) > 0 and val.y is not None
        return model, {
            "extractor": cls.name,
            "val_accuracy": accuracy(model, val.x, val.y) if labelled_val else None,
            "test_accuracy": accuracy(model, data.test.x, data.test.y),
            "feature_dim": cfg.feature_dim,
            "constant_features": constant_features(model, data.test.x),
        }

    def __init__(self, shape: list[int], num_classes: int, width: int = 32, feature_dim: int = 128, norm: bool = False) -> None:
        """``norm``: BatchNorm before every ReLU (what :func:`train_classifier` builds); without it
        the plain network that evaluator folders saved without the ``norm`` key hold."""
        super().__init__(shape=list(shape), num_classes=num_classes, width=width, feature_dim=feature_dim, norm=norm)
        c, h, w = shape
        blocks, cin = [], c
        for i in range(n_blocks(h, w)):
            cout = width * 2**i
            blocks.append(nn.Sequential(*_conv(cin, cout, norm), *_conv(cout, cout, norm)))
            cin, h, w = cout, h // 2, w // 2
        self.blocks = nn.ModuleList(blocks)
        self.pool = nn.MaxPool2d(2)
        head_norm = [nn.BatchNorm1d(feature_dim, affine=False)] if norm else []  # no learned shift to push a unit below 0
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(cin * h * w, feature_dim, bias=not norm), *head_norm, nn.ReLU())
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
    max_shift: int = 0,
    max_degrees: float = 0.0,
) -> ClassifierExtractor:
    """Cross-entropy training of the batch-normalised network with AdamW and a per-step cosine
    schedule, on images augmented by :func:`.augment.augment`; deterministic for a seed.

    Each epoch splits a fresh permutation into ``len(x) // batch_size`` batches of equal size
    (within one image), so no batch is too small for BatchNorm's statistics.
    """
    if len(x) < 2:
        raise ValueError(f"the classifier needs at least 2 training images, got {len(x)}")
    torch.manual_seed(seed)
    model = ClassifierExtractor(list(x.shape[1:]), num_classes, width, feature_dim, norm=True).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    n_batches = max(1, len(x) // batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * n_batches)
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.long)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for idx in torch.tensor_split(torch.from_numpy(rng.permutation(len(x))), n_batches):
            xb = augment(xt[idx], max_shift, max_degrees, gen).to(device)
            loss = F.cross_entropy(model(xb)["logits"], yt[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    recalibrate_batchnorm(model, xt, device)
    model.eval()
    with torch.no_grad():
        feats = torch.cat([model(xt[s : s + 500].to(device))["features"] for s in range(0, len(xt), 500)])
        model.feature_scale.fill_(float(1.0 / feats.pow(2).mean().sqrt().clamp_min(1e-8)))
    return model


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, x: Tensor, device: str, batch_size: int = 500) -> None:
    """Replace BatchNorm's running statistics, an exponential average that lags behind the
    weights, by their average over the (unaugmented) training images under the final weights
    ("precise BN", Wu & Johnson 2021); a unit normalised by them has mean 0 and variance 1
    on the training data, so it cannot be 0 on all of it after the ReLU."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches below
    model.train()
    for idx in torch.tensor_split(torch.arange(len(x)), max(1, len(x) // batch_size)):
        model(x[idx].to(device))
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum


@torch.inference_mode()
def accuracy(model: ClassifierExtractor, x: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> float:
    device = next(model.parameters()).device
    hits = 0
    for s in range(0, len(x), batch_size):
        logits = model(torch.tensor(x[s : s + batch_size], dtype=torch.float32, device=device))["logits"]
        hits += int((logits.argmax(1).cpu() == torch.from_numpy(y[s : s + batch_size])).sum())
    return hits / len(x)


def constant_features(model: ClassifierExtractor, x: np.ndarray, tol: float = CONSTANT_STD) -> int:
    """How many ``features`` have a standard deviation below ``tol`` over ``x`` (dead units: they
    add nothing to FID/KID/PRDC and shrink the effective feature dimension)."""
    if len(x) < 2:
        raise ValueError(f"constant features need at least 2 inputs, got {len(x)}")
    feats = extract(model, x, ("features",))["features"].astype(np.float64)
    return int((feats.std(axis=0) < tol).sum())
