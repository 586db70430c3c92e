"""The restoration picture of one task: rows corrupted | restored | clean, one column per test image."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

ROW_LABELS = ("corrupted", "restored", "clean")


def rows_picture(rows: np.ndarray, title: str, cell: int = 48, pad: int = 2, label_width: int = 72) -> Image.Image:
    """``rows`` ``(R, k, C, H, W)`` in [0, 1] -> an RGB picture: R rows of k images upscaled to ``cell`` px,
    each row labelled (:data:`ROW_LABELS`), ``title`` above."""
    r, k, c, h, w = rows.shape
    scale = max(1, cell // max(h, w))
    hs, ws, top = h * scale, w * scale, 16
    canvas = np.full((top + r * (hs + pad) + pad, label_width + k * (ws + pad) + pad, 3), 255, dtype=np.uint8)
    imgs = (np.clip(rows, 0.0, 1.0) * 255).round().astype(np.uint8)
    for i in range(r):
        for j in range(k):
            img = imgs[i, j].transpose(1, 2, 0)
            img = np.repeat(img, 3, axis=2) if c == 1 else img[..., :3]
            y0, x0 = top + pad + i * (hs + pad), label_width + pad + j * (ws + pad)
            canvas[y0 : y0 + hs, x0 : x0 + ws] = img.repeat(scale, 0).repeat(scale, 1)
    picture = Image.fromarray(canvas)
    draw = ImageDraw.Draw(picture)
    draw.text((4, 2), title, fill=(0, 0, 0))
    for i in range(r):
        draw.text((4, top + pad + i * (hs + pad) + hs // 2 - 5), ROW_LABELS[i] if i < len(ROW_LABELS) else "", fill=(0, 0, 0))
    return picture
