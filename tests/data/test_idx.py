"""mnist / fashion-mnist: IDX parsing on hand-written files, and the error messages."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from genmodels.data.idx import load_fashion_mnist, load_mnist, read_idx
from genmodels.errors import ConfigError, DataError

CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i2"): 0x0B, np.dtype(">i4"): 0x0C,
         np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}  # fmt: skip


def idx_bytes(arr: np.ndarray) -> bytes:
    """The IDX encoding of ``arr``: magic (0, 0, dtype code, ndim), big-endian dims, data."""
    big = arr.astype(arr.dtype.newbyteorder(">")) if arr.dtype.itemsize > 1 else arr
    header = bytes([0, 0, CODES[big.dtype], arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + big.tobytes()


def write_idx(path: Path, arr: np.ndarray) -> Path:
    data = idx_bytes(arr)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def make_mnist(root: Path, n_train: int = 30, n_test: int = 12, gz: bool = False, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    root.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        write_idx(root / (f"{name}.gz" if gz else name), arr)
    return arrays


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(("loader", "name"), [(load_mnist, "mnist"), (load_fashion_mnist, "fashion-mnist")])
def test_load_contract(tmp_path, make_cfg, assert_same, loader, name, gz):
    arrays = make_mnist(tmp_path, gz=gz)
    data = loader(make_cfg(name=name, path=str(tmp_path)), 0)
    assert data.train.x.shape == (30, 1, 28, 28) and data.test.x.shape == (12, 1, 28, 28)
    assert data.train.x.dtype == np.float32 and data.train.y.dtype == np.int64
    np.testing.assert_array_equal(data.train.x[:, 0] * 255, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(data.test.x[:, 0] * 255, arrays["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(data.train.y, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(data.test.y, arrays["t10k-labels-idx1-ubyte"])
    info = data.info
    assert (info.name, info.kind, info.shape, info.levels, info.num_classes) == (name, "image", (1, 28, 28), 256, 10)
    assert info.value_range == (0.0, 1.0) and len(info.extra["classes"]) == 10
    assert_same(data, loader(make_cfg(name=name, path=str(tmp_path)), 0))


def test_limit_subsamples_train_only(tmp_path, make_cfg):
    arrays = make_mnist(tmp_path)
    cfg = make_cfg(name="mnist", path=str(tmp_path), limit=7)
    a, b, c = load_mnist(cfg, 0), load_mnist(cfg, 0), load_mnist(cfg, 1)
    assert len(a.train) == 7 and len(a.test) == 12
    np.testing.assert_array_equal(a.train.x, b.train.x)
    assert not np.array_equal(a.train.x, c.train.x)
    images = arrays["train-images-idx3-ubyte"].reshape(30, -1)
    rows = [int(np.flatnonzero((images == (img[0] * 255).reshape(-1)).all(axis=1))[0]) for img in a.train.x]
    assert rows == sorted(rows)  # a subset, kept in file order
    np.testing.assert_array_equal(a.train.y, arrays["train-labels-idx1-ubyte"][rows])


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, ">i2", ">i4", ">f4", ">f8"])
def test_read_idx_every_dtype(tmp_path, dtype):
    arr = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    out = read_idx(write_idx(tmp_path / "a.idx", arr))
    assert out.shape == (2, 3, 4) and out.dtype.isnative
    np.testing.assert_array_equal(out, arr)


def test_missing_file_is_named(tmp_path, make_cfg, assert_names):
    make_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError) as excinfo:
        load_mnist(make_cfg(name="mnist", path=str(tmp_path)), 0)
    assert_names(excinfo, "t10k-labels-idx1-ubyte")


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda b: b[:-100], "truncated"),
        (lambda b: b[:10], "truncated"),
        (lambda b: b[:3], "truncated"),
        (lambda b: b + b"\x00", "oversized"),
        (lambda b: b"\x01" + b[1:], "not an IDX file"),
        (lambda b: b[:2] + b"\x07" + b[3:], "not an IDX file"),
    ],
)
def test_corrupt_file_is_named(tmp_path, make_cfg, assert_names, damage, match):
    make_mnist(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DataError, match=match) as excinfo:
        load_mnist(make_cfg(name="mnist", path=str(tmp_path)), 0)
    assert_names(excinfo, str(path))


def test_truncated_gzip_is_named(tmp_path, make_cfg, assert_names):
    make_mnist(tmp_path, gz=True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(DataError) as excinfo:
        load_mnist(make_cfg(name="mnist", path=str(tmp_path)), 0)
    assert_names(excinfo, str(path))


def test_inconsistent_files_are_named(tmp_path, make_cfg, assert_names):
    make_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(29, dtype=np.uint8))
    with pytest.raises(DataError, match="29 labels") as excinfo:
        load_mnist(make_cfg(name="mnist", path=str(tmp_path)), 0)
    assert_names(excinfo, "train-labels-idx1-ubyte")
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.full(30, 10, dtype=np.uint8))
    with pytest.raises(DataError, match="outside 0..9"):
        load_mnist(make_cfg(name="mnist", path=str(tmp_path)), 0)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(30, dtype=np.uint8))
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((12, 28, 28), dtype=">i4"))
    with pytest.raises(DataError, match="uint8 images") as excinfo:
        load_mnist(make_cfg(name="mnist", path=str(tmp_path)), 0)
    assert_names(excinfo, "t10k-images-idx3-ubyte")


def test_path_must_be_given_and_exist(tmp_path, make_cfg):
    with pytest.raises(ConfigError, match="data.path"):
        load_mnist(make_cfg(name="mnist"), 0)
    with pytest.raises(DataError, match="not found"):
        load_mnist(make_cfg(name="mnist", path=str(tmp_path / "nope")), 0)
