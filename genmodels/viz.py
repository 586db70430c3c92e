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


# --- matplotlib figures (imported lazily: the library runs where only torch exists) ---


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _to_image(fig) -> Image.Image:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    _pyplot().close(fig)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def _show(ax, img: np.ndarray) -> None:
    """One ``(C, H, W)`` image in [0, 1] on ``ax``, without ticks."""
    ax.imshow(img[0] if img.shape[0] == 1 else img[:3].transpose(1, 2, 0), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def interpolation_strip(x: np.ndarray, title: str = "latent interpolation") -> Image.Image:
    """Rows of ``(pairs, steps, C, H, W)``: each row decodes a path from one latent draw to another."""
    plt = _pyplot()
    pairs, steps = x.shape[:2]
    fig, axes = plt.subplots(pairs, steps, figsize=(steps * 0.9, pairs * 0.9 + 0.4), squeeze=False)
    for r in range(pairs):
        for c in range(steps):
            _show(axes[r][c], x[r, c])
    for c, t in enumerate(np.linspace(0, 1, steps)):
        axes[-1][c].set_xlabel(f"t={t:.2f}", fontsize=7)
    fig.suptitle(title, fontsize=9)
    return _to_image(fig)


def neighbour_pairs(samples: np.ndarray, neighbours: np.ndarray, distances: np.ndarray) -> Image.Image:
    """Each sample (top) above its nearest training image (bottom) with their pixel distance."""
    plt = _pyplot()
    n = len(samples)
    fig, axes = plt.subplots(2, n, figsize=(n * 0.9, 2.3), squeeze=False)
    for i in range(n):
        _show(axes[0][i], samples[i])
        _show(axes[1][i], neighbours[i])
        axes[1][i].set_xlabel(f"{distances[i]:.2f}", fontsize=7)
    axes[0][0].set_ylabel("sample", fontsize=7)
    axes[1][0].set_ylabel("nearest\ntraining", fontsize=7)
    fig.suptitle("samples and their nearest training images (L2 distance)", fontsize=9)
    return _to_image(fig)


def interval_bars(names: list[str], values: list[float], lows: list[float | None], highs: list[float | None],
                  label: str, reference: list[bool] | None = None) -> Image.Image:  # fmt: skip
    """Horizontal bars: one value per row with its 95 % interval as an error bar (reference rows grey)."""
    plt = _pyplot()
    ref = reference or [False] * len(names)
    fig, ax = plt.subplots(figsize=(6, 0.4 * len(names) + 0.9))
    ys = np.arange(len(names))[::-1]
    err = np.array([[v - lo if lo is not None else 0 for v, lo in zip(values, lows)], [hi - v if hi is not None else 0 for v, hi in zip(values, highs)]])
    ax.barh(ys, values, color=["#b0b0b0" if r else "#3a6fc4" for r in ref], xerr=np.maximum(err, 0), capsize=3)
    ax.set_yticks(ys, names)
    ax.set_xlabel(label)
    ax.grid(axis="x", alpha=0.3)
    return _to_image(fig)
