"""cifar10: python-version batches, the restricted unpickler and the error messages."""

from __future__ import annotations

import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from genmodels.data.cifar10 import TEST_FILE, TRAIN_FILES, load_cifar10, read_batch
from genmodels.errors import DataError


def batch_dict(n: int, seed: int, name: str = "batch") -> dict:
    """The structure of a real batch: bytes keys, uint8 (n, 3072) data, a list of labels."""
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": f"{name} of 5".encode(),
        b"labels": [int(v) for v in rng.integers(0, 10, n)],
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [f"img_{k}.png".encode() for k in range(n)],
    }


def write_batch(path: Path, batch: dict, protocol: int = 2) -> Path:
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=protocol)
    return path


def make_cifar(root: Path, n: int = 4, n_test: int = 3) -> dict[str, dict]:
    root.mkdir(parents=True, exist_ok=True)
    batches = {name: batch_dict(n, k) for k, name in enumerate(TRAIN_FILES)}
    batches[TEST_FILE] = batch_dict(n_test, 99)
    for name, batch in batches.items():
        write_batch(root / name, batch, protocol=4)
    return batches


@pytest.mark.parametrize("subfolder", [False, True])
def test_load_contract(tmp_path, make_cfg, assert_same, subfolder):
    batches = make_cifar(tmp_path / "cifar-10-batches-py" if subfolder else tmp_path)
    data = load_cifar10(make_cfg(name="cifar10", path=str(tmp_path)), 0)
    assert data.train.x.shape == (20, 3, 32, 32) and data.test.x.shape == (3, 3, 32, 32)
    assert data.train.x.dtype == np.float32 and data.train.y.dtype == np.int64
    assert 0.0 <= data.train.x.min() and data.train.x.max() <= 1.0
    train_raw = np.concatenate([batches[name][b"data"] for name in TRAIN_FILES])
    # Row layout: 1024 red, 1024 green, 1024 blue values, each 32x32 row-major.
    np.testing.assert_array_equal(data.train.x[:, 0].reshape(20, -1) * 255, train_raw[:, :1024])
    np.testing.assert_array_equal(data.train.x[:, 2, 1, 3] * 255, train_raw[:, 2048 + 32 + 3])
    np.testing.assert_array_equal(data.train.y, sum((batches[name][b"labels"] for name in TRAIN_FILES), []))
    np.testing.assert_array_equal(data.test.y, batches[TEST_FILE][b"labels"])
    info = data.info
    assert (info.name, info.kind, info.shape) == ("cifar10", "image", (3, 32, 32))
    assert (info.levels, info.num_classes, info.value_range) == (256, 10, (0.0, 1.0))
    assert info.extra["classes"][0] == "airplane"
    assert_same(data, load_cifar10(make_cfg(name="cifar10", path=str(tmp_path)), 0))


def test_limit_subsamples_train_only(tmp_path, make_cfg):
    make_cifar(tmp_path)
    cfg = make_cfg(name="cifar10", path=str(tmp_path), limit=5)
    a, b = load_cifar10(cfg, 0), load_cifar10(cfg, 0)
    assert len(a.train) == 5 and len(a.test) == 3
    np.testing.assert_array_equal(a.train.x, b.train.x)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_every_pickle_protocol(tmp_path, protocol):
    batch = batch_dict(5, 1)
    out = read_batch(write_batch(tmp_path / "b", batch, protocol))
    np.testing.assert_array_equal(out.x.reshape(5, -1) * 255, batch[b"data"])
    np.testing.assert_array_equal(out.y, batch[b"labels"])


def py2_pickle(data: np.ndarray, labels: list[int]) -> bytes:
    """Assemble, opcode by opcode, what Python 2's cPickle wrote for the official batches:
    protocol 2, keys and the array buffer as py2 ``str`` (SHORT_BINSTRING / BINSTRING) and
    the numpy 1 global ``numpy.core.multiarray._reconstruct``."""
    n = len(data)

    def short(s: bytes) -> bytes:
        return b"U" + bytes([len(s)]) + s

    out = b"\x80\x02}(" + short(b"data")
    out += b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + short(b"b") + b"\x87R("
    out += b"K\x01K" + bytes([n]) + b"M\x00\x0c\x86"  # version 1, shape (n, 3072)
    out += b"cnumpy\ndtype\n" + short(b"u1") + b"K\x00K\x01\x87R(K\x03" + short(b"|")
    out += b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"  # dtype state
    out += b"I00\n" + b"T" + struct.pack("<I", data.nbytes) + data.tobytes() + b"tb"  # array state
    out += short(b"labels") + b"](" + b"".join(b"K" + bytes([v]) for v in labels) + b"e"
    return out + b"u."


def test_python2_pickle_like_the_official_files(tmp_path):
    data = np.random.default_rng(0).integers(0, 256, (3, 3072), dtype=np.uint8)
    (tmp_path / "b").write_bytes(py2_pickle(data, [3, 1, 9]))
    out = read_batch(tmp_path / "b")
    np.testing.assert_array_equal(out.x.reshape(3, -1) * 255, data)
    np.testing.assert_array_equal(out.y, [3, 1, 9])


def test_numpy1_module_names_are_accepted(tmp_path):
    batch = batch_dict(2, 0)
    raw = pickle.dumps(batch, protocol=2).replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    assert b"numpy.core.multiarray" in raw
    (tmp_path / "b").write_bytes(raw)
    np.testing.assert_array_equal(read_batch(tmp_path / "b").x.reshape(2, -1) * 255, batch[b"data"])


class _Evil:
    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (self.target,))


def test_restricted_unpickler_refuses_other_globals(tmp_path, assert_names):
    batch = batch_dict(2, 0)
    batch[b"filenames"] = _Evil(str(tmp_path / "pwned"))
    path = write_batch(tmp_path / "data_batch_1", batch)
    with pytest.raises(DataError, match="refusing global") as excinfo:
        read_batch(path)
    assert_names(excinfo, str(path))
    assert not (tmp_path / "pwned").exists()


def test_missing_files_are_named(tmp_path, make_cfg, assert_names):
    with pytest.raises(DataError) as excinfo:
        load_cifar10(make_cfg(name="cifar10", path=str(tmp_path)), 0)
    assert_names(excinfo, "data_batch_1")
    make_cifar(tmp_path)
    (tmp_path / TEST_FILE).unlink()
    with pytest.raises(DataError) as excinfo:
        load_cifar10(make_cfg(name="cifar10", path=str(tmp_path)), 0)
    assert_names(excinfo, str(tmp_path / TEST_FILE))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda b: b.__setitem__(b"data", b[b"data"][:, :100]), "uint8 array"),
        (lambda b: b.__setitem__(b"data", b[b"data"].astype(np.float32)), "uint8 array"),
        (lambda b: b.__setitem__(b"labels", b[b"labels"][:-1]), "labels for"),
        (lambda b: b.__setitem__(b"labels", [42] * len(b[b"labels"])), "0..9"),
        (lambda b: b.pop(b"data"), "'data'"),
    ],
)
def test_malformed_batch_is_named(tmp_path, make_cfg, assert_names, change, match):
    make_cifar(tmp_path)
    batch = batch_dict(4, 0)
    change(batch)
    path = write_batch(tmp_path / "data_batch_3", batch)
    with pytest.raises(DataError, match=match) as excinfo:
        load_cifar10(make_cfg(name="cifar10", path=str(tmp_path)), 0)
    assert_names(excinfo, str(path))


def test_truncated_or_garbage_file_is_named(tmp_path, make_cfg, assert_names):
    make_cifar(tmp_path)
    path = tmp_path / "data_batch_2"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DataError) as excinfo:
        load_cifar10(make_cfg(name="cifar10", path=str(tmp_path)), 0)
    assert_names(excinfo, str(path))
    path.write_bytes(b"this is not a pickle at all")
    with pytest.raises(DataError) as excinfo:
        load_cifar10(make_cfg(name="cifar10", path=str(tmp_path)), 0)
    assert_names(excinfo, str(path))
