"""folder: PNG directories, labels from subfolders, and the error messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genmodels.data.folder import load_folder
from genmodels.errors import DataError

H, W = 6, 8  # deliberately not square: catches H/W mix-ups


def write_png(path: Path, arr: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, mode=mode).save(path)
    return path


def make_folder(root: Path, classes=("dog", "cat", "bird"), per_class=5, rgb=False, seed=0) -> dict[str, np.ndarray]:
    """PNGs in class subfolders; returns {relative path: uint8 array as written (H, W[, 3])}."""
    rng = np.random.default_rng(seed)
    written = {}
    for name in classes:
        for k in range(per_class):
            arr = rng.integers(0, 256, (H, W, 3) if rgb else (H, W), dtype=np.uint8)
            write_png(root / name / f"{k:03d}.png", arr)
            written[f"{name}/{k:03d}.png"] = arr
    return written


def _all_rows(data) -> tuple[np.ndarray, np.ndarray | None]:
    x = np.concatenate([data.train.x, data.test.x])
    y = None if data.train.y is None else np.concatenate([data.train.y, data.test.y])
    return x, y


def test_grayscale_with_subfolder_labels(tmp_path, make_cfg, assert_same):
    written = make_folder(tmp_path)
    cfg = make_cfg(name="folder", path=str(tmp_path), test_fraction=0.4)
    data = load_folder(cfg, 0)
    info = data.info
    assert (info.name, info.kind, info.shape, info.levels) == ("folder", "image", (1, H, W), 256)
    assert info.num_classes == 3 and info.extra["classes"] == ["bird", "cat", "dog"]
    assert len(data.train) == 9 and len(data.test) == 6
    assert np.bincount(data.test.y).tolist() == [2, 2, 2]  # stratified
    assert data.train.x.dtype == np.float32 and data.train.y.dtype == np.int64
    x, y = _all_rows(data)
    expected = {(int(["bird", "cat", "dog"].index(rel.split("/")[0])), arr.tobytes()) for rel, arr in written.items()}
    got = {(int(label), (img[0] * 255).round().astype(np.uint8).tobytes()) for img, label in zip(x, y)}
    assert got == expected
    assert_same(data, load_folder(cfg, 0))
    assert not np.array_equal(data.train.x, load_folder(cfg, 1).train.x)


def test_rgb_channels_are_chw(tmp_path, make_cfg):
    written = make_folder(tmp_path, classes=("a",), per_class=4, rgb=True)
    data = load_folder(make_cfg(name="folder", path=str(tmp_path)), 0)
    assert data.info.shape == (3, H, W) and data.train.y is None  # one subfolder: no labels
    x, _ = _all_rows(data)
    expected = {arr.transpose(2, 0, 1).tobytes() for arr in written.values()}
    assert {(img * 255).round().astype(np.uint8).tobytes() for img in x} == expected


def test_label_modes(tmp_path, make_cfg, assert_names):
    make_folder(tmp_path, classes=("x", "y"), per_class=3)
    write_png(tmp_path / "loose.png", np.zeros((H, W), dtype=np.uint8))
    auto = load_folder(make_cfg(name="folder", path=str(tmp_path)), 0)
    assert auto.train.y is None and auto.info.num_classes is None
    assert len(auto.train) + len(auto.test) == 7
    with pytest.raises(DataError, match="class subfolder") as excinfo:
        load_folder(make_cfg(name="folder", path=str(tmp_path), folder={"labels": "subfolders"}), 0)
    assert_names(excinfo, "loose.png")
    (tmp_path / "loose.png").unlink()
    none = load_folder(make_cfg(name="folder", path=str(tmp_path), folder={"labels": "none"}), 0)
    assert none.train.y is None


def test_nested_sorted_recursive_and_filters(tmp_path, make_cfg):
    make_folder(tmp_path, classes=("b", "a"), per_class=2)
    write_png(tmp_path / "a" / "deeper" / "x.PNG", np.zeros((H, W), dtype=np.uint8))
    write_png(tmp_path / ".hidden" / "h.png", np.zeros((3, 3), dtype=np.uint8))
    write_png(tmp_path / "a" / ".h.png", np.zeros((3, 3), dtype=np.uint8))
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    data = load_folder(make_cfg(name="folder", path=str(tmp_path), test_fraction=0.2), 0)
    _, y = _all_rows(data)
    assert np.bincount(y).tolist() == [3, 2]  # a/deeper/x.PNG counts for class "a"


def test_limit(tmp_path, make_cfg):
    make_folder(tmp_path, per_class=6)
    data = load_folder(make_cfg(name="folder", path=str(tmp_path), limit=4, test_fraction=0.5), 0)
    assert len(data.train) == 4 and len(data.test) == 9


def test_empty_folder(tmp_path, make_cfg):
    (tmp_path / "sub").mkdir()
    (tmp_path / "readme.txt").write_text("no images here")
    with pytest.raises(DataError, match="no PNG files"):
        load_folder(make_cfg(name="folder", path=str(tmp_path)), 0)


@pytest.mark.parametrize(
    ("arr", "mode", "match"),
    [
        (np.zeros((H + 1, W), dtype=np.uint8), None, "differs"),
        (np.zeros((H, W, 3), dtype=np.uint8), None, "differs"),
        (np.zeros((H, W, 4), dtype=np.uint8), None, "unsupported PNG mode RGBA"),
        (np.zeros((H, W), dtype=np.uint16), None, "unsupported PNG mode I;16"),
    ],
)
def test_mismatched_or_unsupported_image_is_named(tmp_path, make_cfg, assert_names, arr, mode, match):
    make_folder(tmp_path, classes=("a", "b"), per_class=2)
    bad = write_png(tmp_path / "b" / "zz_bad.png", arr, mode)
    with pytest.raises(DataError, match=match) as excinfo:
        load_folder(make_cfg(name="folder", path=str(tmp_path)), 0)
    assert_names(excinfo, str(bad))


@pytest.mark.parametrize("damage", ["garbage", "truncated", "jpeg"])
def test_unreadable_file_is_named(tmp_path, make_cfg, assert_names, damage):
    make_folder(tmp_path, classes=("a", "b"), per_class=2)
    bad = tmp_path / "a" / "001.png"
    if damage == "garbage":
        bad.write_bytes(b"definitely not a png")
    elif damage == "truncated":
        bad.write_bytes(bad.read_bytes()[:60])
    else:
        Image.fromarray(np.zeros((H, W), dtype=np.uint8)).save(bad, format="JPEG")
    with pytest.raises(DataError) as excinfo:
        load_folder(make_cfg(name="folder", path=str(tmp_path)), 0)
    assert_names(excinfo, str(bad))
