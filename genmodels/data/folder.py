"""Any local folder of 8-bit PNG images, optionally labelled by class subfolder.

Every ``*.png`` under ``cfg.path`` is read (recursively, in sorted path order, hidden
files and folders skipped). All images must share one size and one colour mode:
grayscale becomes 1 channel, RGB 3 channels, values k/255. With labels, the immediate
subfolder names, sorted, map to 0, 1, ... (the ImageFolder convention). The source has
no split of its own, so a seeded stratified split holds out ``cfg.test_fraction``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from genmodels.data.base import DatasetInfo, PreparedData
from genmodels.data.config import DataConfig
from genmodels.data.idx import require_path
from genmodels.data.registry import register_dataset
from genmodels.data.split import stratified_split
from genmodels.errors import DataError

# PNG mode -> (mode we convert to, channels). Alpha and 16-bit modes are refused.
_MODES: dict[str, tuple[str, int]] = {"L": ("L", 1), "1": ("L", 1), "RGB": ("RGB", 3), "P": ("RGB", 3)}


def list_pngs(root: Path) -> list[Path]:
    """PNG files under ``root``, sorted by relative path, skipping hidden entries."""
    found = [
        p
        for p in root.rglob("*")
        if p.suffix.lower() == ".png"
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    ]
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def read_png(path: Path) -> np.ndarray:
    """One image as uint8 ``(C, H, W)``; DataError naming the file if it cannot be used."""
    try:
        with Image.open(path) as im:
            fmt, mode = im.format, im.mode
            im.load()
            target = _MODES.get(mode, (mode, 0))[0]
            arr = np.asarray(im if mode == target else im.convert(target))
    except UnidentifiedImageError:
        raise DataError(f"cannot read image {path}: not an image file (empty, damaged or another format)") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        text = str(exc).strip().splitlines()
        raise DataError(f"cannot read image {path}: {text[0] if text else type(exc).__name__}") from None
    if fmt != "PNG":
        raise DataError(f"{path}: not a PNG file (format {fmt})")
    if mode not in _MODES:
        raise DataError(f"{path}: unsupported PNG mode {mode} (need 8-bit grayscale or RGB, no alpha)")
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def folder_labels(root: Path, files: list[Path], mode: str) -> tuple[np.ndarray | None, list[str]]:
    """Labels from immediate subfolder names (see ``FolderOptions.labels``) and the class names."""
    rel = [f.relative_to(root) for f in files]
    loose = [r for r in rel if len(r.parts) < 2]
    classes = sorted({r.parts[0] for r in rel if len(r.parts) >= 2})
    if mode == "subfolders" and loose:
        raise DataError(f"{root / loose[0]}: not inside a class subfolder (data.folder.labels is 'subfolders')")
    if mode == "none" or (mode == "auto" and (loose or len(classes) < 2)):
        return None, []
    index = {name: k for k, name in enumerate(classes)}
    return np.array([index[r.parts[0]] for r in rel], dtype=np.int64), classes


@register_dataset("folder")
def load_folder(cfg: DataConfig, seed: int) -> PreparedData:
    root = require_path(cfg)
    files = list_pngs(root)
    if not files:
        raise DataError(f"no PNG files found under {root}")
    if len(files) < 2:
        raise DataError(f"{root}: only one PNG file ({files[0].name}); need at least 2 for a train/test split")
    first = read_png(files[0])
    images = np.empty((len(files), *first.shape), dtype=np.uint8)
    images[0] = first
    for k, path in enumerate(files[1:], start=1):
        arr = read_png(path)
        if arr.shape != first.shape:
            raise DataError(f"{path}: shape {_describe(arr)} differs from {files[0].name} ({_describe(first)})")
        images[k] = arr
    y, classes = folder_labels(root, files, cfg.folder.labels)
    x = images.astype(np.float32) / 255.0
    train, test = stratified_split(x, y, cfg.test_fraction, seed, limit=cfg.limit)
    info = DatasetInfo(
        name="folder",
        kind="image",
        shape=tuple(int(s) for s in first.shape),
        levels=256,
        num_classes=len(classes) or None,
        value_range=(0.0, 1.0),
        extra={"classes": classes, "files": len(files)},
    )
    return PreparedData(train=train, test=test, info=info)


def _describe(arr: np.ndarray) -> str:
    channels, height, width = arr.shape
    return f"{width}x{height} {'grayscale' if channels == 1 else 'RGB'}"
