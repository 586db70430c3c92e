"""Pictures of samples with Pillow only: an image grid, or a scatter plot for 2-D points."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw


def image_grid(x: np.ndarray, cell: int = 48, pad: int = 2) -> Image.Image:
    """Tile ``(n, C, H, W)`` images in [0, 1] into a near-square grid, upscaled to ``cell`` px."""
    n, c, h, w = x.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    scale = max(1, cell // max(h, w))
    hs, ws = h * scale, w * scale
    canvas = np.ones((rows * (hs + pad) + pad, cols * (ws + pad) + pad, 3), dtype=np.uint8) * 255
    imgs = (np.clip(x, 0, 1) * 255).round().astype(np.uint8)
    for i in range(n):
        img = imgs[i].transpose(1, 2, 0)
        img = np.repeat(img, 3, axis=2) if c == 1 else img[..., :3]
        img = img.repeat(scale, 0).repeat(scale, 1)
        r, q = divmod(i, cols)
        y0, x0 = pad + r * (hs + pad), pad + q * (ws + pad)
        canvas[y0 : y0 + hs, x0 : x0 + ws] = img
    return Image.fromarray(canvas)


def scatter(fake: np.ndarray, real: np.ndarray | None = None, size: int = 512, lim: float | None = None) -> Image.Image:
    """2-D scatter: real points grey, samples blue, on a square canvas."""
    pts = [p for p in (real, fake) if p is not None]
    lim = lim or float(np.abs(np.concatenate(pts)).max()) * 1.05 or 1.0
    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)
    to_px = lambda p: ((p + lim) / (2 * lim) * (size - 1)).astype(int)  # noqa: E731
    for pts_, colour in ((real, (170, 170, 170)), (fake, (31, 90, 200))):
        if pts_ is None:
            continue
        for px, py in to_px(pts_[:5000, :2]):
            draw.point((int(px), int(size - 1 - py)), fill=colour)
    return img


def samples_picture(x: np.ndarray, kind: str, real: np.ndarray | None = None) -> Image.Image:
    if kind == "image":
        return image_grid(x)
    return scatter(x.reshape(len(x), -1), None if real is None else real.reshape(len(real), -1))
