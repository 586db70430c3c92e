"""CIFAR-10 (Krizhevsky 2009) from the local "python version" batches.

Each of ``data_batch_1`` .. ``data_batch_5`` and ``test_batch`` is a pickled dict with
``data``: uint8 array (10000, 3072), each row 1024 red, 1024 green then 1024 blue values of
a 32x32 image in row-major order, and ``labels``: a list of ints in 0..9 (plus
``batch_label`` and ``filenames``). The files were written by Python 2, so they are read
with ``encoding="latin1"``; keys may be ``str`` or ``bytes``. Pickles can run arbitrary
code, so a restricted unpickler admits only the numpy globals that rebuild an array.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from genmodels.data.base import DatasetInfo, PreparedData
from genmodels.data.config import DataConfig
from genmodels.data.idx import require_path, take_limit
from genmodels.data.registry import register_dataset
from genmodels.data.samples import Samples
from genmodels.errors import DataError

TRAIN_FILES = tuple(f"data_batch_{k}" for k in range(1, 6))
TEST_FILE = "test_batch"
SUBFOLDER = "cifar-10-batches-py"  # the folder the official archive unpacks to
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
_SIDE, _ROW = 32, 3 * 32 * 32


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    """Stand-in for ``_codecs.encode``, which protocol-2 pickles from Python 3 use for bytes."""
    if not isinstance(text, str) or encoding != "latin1":
        raise pickle.UnpicklingError("_codecs.encode is only allowed for latin1 bytes")
    return text.encode("latin1")


def _numpy_globals() -> dict[tuple[str, str], Any]:
    """The callables numpy pickles reference to rebuild an ndarray, under both the numpy 1
    (``numpy.core``) and numpy 2 (``numpy._core``) module names; taken from numpy's own
    reduce tuples so no private module is imported."""
    probe = np.zeros(1, dtype=np.uint8)
    reconstruct = probe.__reduce__()[0]  # used by pickle protocols 0-4
    frombuffer = probe.__reduce_ex__(5)[0]  # used by protocol 5
    allowed: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        allowed[(f"{core}.numeric", "_frombuffer")] = frombuffer
    allowed[("_codecs", "encode")] = _latin1_encode
    return allowed


_ALLOWED = _numpy_globals()


class _RestrictedUnpickler(pickle.Unpickler):
    """Builds only plain containers, strings, numbers and numpy arrays."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing global {module}.{name}") from None


def _unpickle(path: Path) -> Any:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return _RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
    except Exception as exc:  # truncation and bad opcodes raise many types
        text = str(exc).strip().splitlines()
        raise DataError(f"{path}: not a valid CIFAR-10 batch ({text[0] if text else type(exc).__name__})") from None


def _read_raw(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch as its uint8 ``(n, 3072)`` rows and int64 labels, validated."""
    obj = _unpickle(path)
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a dict, found {type(obj).__name__}")
    batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}
    data, labels = batch.get("data"), batch.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != _ROW:
        got = f"{data.dtype} {list(data.shape)}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{path}: 'data' must be a uint8 array (n, {_ROW}), found {got}")
    try:
        y = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise DataError(f"{path}: 'labels' must be a list of integers") from None
    if y.shape != (len(data),):
        raise DataError(f"{path}: {y.size} labels for {len(data)} images")
    if len(y) and (y.min() < 0 or y.max() > 9):
        raise DataError(f"{path}: labels must lie in 0..9")
    return data, y


def _to_samples(data: np.ndarray, y: np.ndarray) -> Samples:
    return Samples(x=data.reshape(-1, 3, _SIDE, _SIDE).astype(np.float32) / 255.0, y=y)


def read_batch(path: str | Path) -> Samples:
    """One CIFAR-10 batch as float32 ``(n, 3, 32, 32)`` in [0, 1] and int64 labels."""
    return _to_samples(*_read_raw(Path(path)))


def find_batches_dir(root: Path) -> Path:
    """``root`` itself or its ``cifar-10-batches-py`` subfolder, whichever holds the batches."""
    for folder in (root, root / SUBFOLDER):
        if (folder / TRAIN_FILES[0]).is_file():
            return folder
    hint = " (extract cifar-10-python.tar.gz first)" if any(root.glob("*.tar.gz")) else ""
    raise DataError(f"missing file {root / TRAIN_FILES[0]} (also looked in {root / SUBFOLDER}){hint}")


def _batch(folder: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    path = folder / name
    if not path.is_file():
        raise DataError(f"missing file {path}")
    return _read_raw(path)


@register_dataset("cifar10")
def load_cifar10(cfg: DataConfig, seed: int) -> PreparedData:
    """The official 50000/10000 split; ``cfg.limit`` subsamples train only."""
    folder = find_batches_dir(require_path(cfg))
    parts = [_batch(folder, name) for name in TRAIN_FILES]
    # Subsample while still uint8 (a quarter of the float32 size).
    data, labels = np.concatenate([d for d, _ in parts]), np.concatenate([y for _, y in parts])
    raw = take_limit(Samples(x=data, y=labels), cfg.limit, seed)
    info = DatasetInfo(
        name="cifar10",
        kind="image",
        shape=(3, _SIDE, _SIDE),
        levels=256,
        num_classes=10,
        value_range=(0.0, 1.0),
        extra={"classes": CLASSES},
    )
    return PreparedData(train=_to_samples(raw.x, raw.y), test=_to_samples(*_batch(folder, TEST_FILE)), info=info)
