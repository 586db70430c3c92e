"""MNIST (LeCun et al. 1998) and Fashion-MNIST (Xiao et al. 2017) from local IDX files.

IDX format: two zero bytes, a dtype code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
0x0D float32, 0x0E float64), the number of dimensions, then each dimension as a big-endian
uint32, then the values in row-major order, big-endian. Both datasets ship the same four
files (optionally gzipped); their own 60000/10000 train/test split is kept.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from genmodels.data.base import DatasetInfo, PreparedData
from genmodels.data.config import DataConfig
from genmodels.data.registry import register_dataset
from genmodels.data.samples import Samples
from genmodels.errors import ConfigError, DataError

_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
MNIST_CLASSES = [str(k) for k in range(10)]
FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"cannot read {path}: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def read_idx(path: str | Path) -> np.ndarray:
    """Parse one IDX file (plain or ``.gz``) into a native-endian array of its shape."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DataError(f"{path}: truncated IDX file ({len(raw)} bytes, no complete header)")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES or raw[3] == 0:
        raise DataError(f"{path}: not an IDX file (magic bytes {raw[:4].hex()})")
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX file (header promises {ndim} dimensions)")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header
    if found != expected:
        what = "truncated" if found < expected else "oversized"
        raise DataError(f"{path}: {what} IDX file: shape {list(dims)} needs {expected} data bytes, found {found}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def _find(root: Path, name: str) -> Path:
    """``name`` or ``name.gz`` inside ``root``; DataError naming the file if neither exists."""
    for candidate in (root / name, root / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise DataError(f"missing file {root / name} (or {name}.gz)")


def _read_split(root: Path, images_name: str, labels_name: str) -> Samples:
    images_path, labels_path = _find(root, images_name), _find(root, labels_name)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        got = f"{images.dtype} {list(images.shape)}"
        raise DataError(f"{images_path}: expected uint8 images (n, rows, cols), got {got}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(f"{labels_path}: expected uint8 labels (n,), got {labels.dtype} {list(labels.shape)}")
    if len(labels) != len(images):
        raise DataError(f"{labels_path}: {len(labels)} labels but {images_path.name} holds {len(images)} images")
    if len(labels) and labels.max() > 9:
        raise DataError(f"{labels_path}: label {int(labels.max())} is outside 0..9")
    x = (images.astype(np.float32) / 255.0)[:, None, :, :]
    return Samples(x=x, y=labels.astype(np.int64))


def take_limit(samples: Samples, limit: int | None, seed: int) -> Samples:
    """A seeded random subset of ``limit`` rows (kept in file order); all rows if None."""
    if limit is None or limit >= len(samples):
        return samples
    idx = np.sort(np.random.default_rng(seed).permutation(len(samples))[:limit])
    return Samples(x=samples.x[idx], y=None if samples.y is None else samples.y[idx])


def require_path(cfg: DataConfig) -> Path:
    """The configured data directory, which must exist."""
    if cfg.path is None:
        raise ConfigError(f"data.path: required for dataset {cfg.name!r} (a local directory)")
    root = Path(cfg.path).expanduser()
    if not root.exists():
        raise DataError(f"data directory not found: {root} (data.path)")
    if not root.is_dir():
        raise DataError(f"data.path: {root} is a file; give the directory that holds the {cfg.name} files")
    return root


def load_idx_dataset(cfg: DataConfig, seed: int, name: str, classes: list[str]) -> PreparedData:
    """Read the four IDX files from ``cfg.path``; ``cfg.limit`` subsamples train only."""
    root = require_path(cfg)
    train = take_limit(_read_split(root, *FILES["train"]), cfg.limit, seed)
    test = _read_split(root, *FILES["test"])
    if train.shape != test.shape:
        raise DataError(f"{root}: train images are {list(train.shape)} but test images are {list(test.shape)}")
    info = DatasetInfo(
        name=name,
        kind="image",
        shape=train.shape,
        levels=256,
        num_classes=10,
        value_range=(0.0, 1.0),
        extra={"classes": classes},
    )
    return PreparedData(train=train, test=test, info=info)


@register_dataset("mnist")
def load_mnist(cfg: DataConfig, seed: int) -> PreparedData:
    return load_idx_dataset(cfg, seed, "mnist", MNIST_CLASSES)


@register_dataset("fashion-mnist")
def load_fashion_mnist(cfg: DataConfig, seed: int) -> PreparedData:
    return load_idx_dataset(cfg, seed, "fashion-mnist", FASHION_CLASSES)
