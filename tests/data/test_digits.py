"""digits (scikit-learn's bundled 8x8 set) and the dataset registry."""

from __future__ import annotations

import numpy as np
import pytest

from genmodels.configbase import validate
from genmodels.data import DATASETS, load_dataset
from genmodels.data.config import DataConfig
from genmodels.errors import ConfigError


def test_digits_contract(assert_same):
    data = load_dataset(DataConfig(), seed=0)
    info = data.info
    assert (info.name, info.kind, info.shape, info.levels, info.num_classes) == ("digits", "image", (1, 8, 8), 17, 10)
    assert len(data.train) + len(data.val) + len(data.test) == 1797
    assert len(data.val) == pytest.approx(0.1 * (1797 - len(data.test)), abs=10)
    assert np.bincount(data.val.y, minlength=10).min() >= 10  # stratified validation split too
    assert len(data.test) == pytest.approx(0.2 * 1797, abs=10)
    x = np.concatenate([data.train.x, data.test.x])
    assert x.dtype == np.float32 and x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_array_equal(x * 16, np.round(x * 16))  # 17 levels k/16
    assert np.bincount(data.test.y, minlength=10).min() >= 30  # stratified: every class held out
    assert_same(data, load_dataset(DataConfig(), seed=0))
    assert not np.array_equal(data.train.x, load_dataset(DataConfig(), seed=1).train.x)


def test_digits_read_from_sklearns_file_equal_its_loader(monkeypatch):
    """read_digits reads scikit-learn's CSV without importing sklearn; the arrays equal load_digits'
    (also on the fallback through load_digits, where the file is missing)."""
    from sklearn.datasets import load_digits as sk_load

    from genmodels.data import digits

    bunch = sk_load()
    for bundled in (True, False):
        if not bundled:
            monkeypatch.setattr(digits, "_bundled_csv", lambda: None)
        images, target = digits.read_digits()
        assert images.dtype == bunch.images.dtype and target.dtype == bunch.target.dtype
        np.testing.assert_array_equal(images, bunch.images)
        np.testing.assert_array_equal(target, bunch.target)


def test_digits_limit(make_cfg):
    data = load_dataset(make_cfg(limit=100), seed=0)
    assert len(data.train) + len(data.val) == 100 and len(data.test) == pytest.approx(360, abs=10)  # limit caps the source of train + val


def test_builtins_are_registered():
    assert set(DATASETS.names()) >= {"digits", "toy2d", "shapes", "mnist", "fashion-mnist", "cifar10", "folder"}


def test_unknown_dataset_and_bad_options(make_cfg):
    with pytest.raises(ConfigError, match="data.name"):
        load_dataset(make_cfg(name="imagenet"), seed=0)
    with pytest.raises(ConfigError, match="folder.labels"):
        validate(DataConfig, {"folder": {"labels": "maybe"}}, prefix="data")
