"""scikit-learn's bundled 8x8 handwritten digits (1797 images, 17 grey levels, no download)."""

from __future__ import annotations

import numpy as np

from genmodels.data.base import DatasetInfo, PreparedData
from genmodels.data.config import DataConfig
from genmodels.data.registry import register_dataset
from genmodels.data.split import stratified_split


@register_dataset("digits")
def load_digits(cfg: DataConfig, seed: int) -> PreparedData:
    from sklearn.datasets import load_digits as sk_load

    bunch = sk_load()
    x = (bunch.images.astype(np.float32) / 16.0)[:, None, :, :]  # (n, 1, 8, 8) in [0, 1]
    y = bunch.target.astype(np.int64)
    train, test = stratified_split(x, y, cfg.test_fraction, seed, limit=cfg.limit)
    info = DatasetInfo(
        name="digits", kind="image", shape=(1, 8, 8), levels=17, num_classes=10, value_range=(0.0, 1.0)
    )
    return PreparedData(train=train, test=test, info=info)
