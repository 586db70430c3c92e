"""scikit-learn's bundled 8x8 handwritten digits (1797 images, 17 grey levels, no download).

The CSV that scikit-learn ships (``sklearn/datasets/data/digits.csv.gz``: 64 pixel values
0..16, then the label) is read here as :func:`sklearn.datasets.load_digits` reads it, without
importing scikit-learn (about 2.5 CPU s of imports: scipy, pandas, ...): the package is located
with :func:`importlib.util.find_spec`, which does not run its ``__init__``. Where the file is
not there, ``load_digits`` itself is used.
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np

from genmodels.data.base import DatasetInfo, PreparedData
from genmodels.data.config import DataConfig
from genmodels.data.registry import register_dataset
from genmodels.data.split import stratified_split

RESOURCE = ("datasets", "data", "digits.csv.gz")  # the file, relative to the sklearn package folder


def _bundled_csv() -> Path | None:
    """scikit-learn's digits CSV, or None when the package or the file is not where expected."""
    try:
        spec = importlib.util.find_spec("sklearn")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder).joinpath(*RESOURCE)
        if path.is_file():
            return path
    return None


def read_digits() -> tuple[np.ndarray, np.ndarray]:
    """The raw digits: images ``(1797, 8, 8)`` float64 with values 0..16 and int labels ``(1797,)``,
    equal to ``load_digits().images`` and ``load_digits().target``."""
    path = _bundled_csv()
    if path is None:
        from sklearn.datasets import load_digits as sk_load

        bunch = sk_load()
        return bunch.images, bunch.target
    with gzip.open(path, mode="rt", encoding="utf-8") as f:  # as sklearn's load_gzip_compressed_csv_data
        table = np.loadtxt(f, delimiter=",")
    return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(int)


@register_dataset("digits")
def load_digits(cfg: DataConfig, seed: int) -> PreparedData:
    images, target = read_digits()
    x = (images.astype(np.float32) / 16.0)[:, None, :, :]  # (n, 1, 8, 8) in [0, 1]
    y = target.astype(np.int64)
    train, test = stratified_split(x, y, cfg.test_fraction, seed, limit=cfg.limit)
    info = DatasetInfo(
        name="digits", kind="image", shape=(1, 8, 8), levels=17, num_classes=10, value_range=(0.0, 1.0)
    )
    return PreparedData(train=train, test=test, info=info)
