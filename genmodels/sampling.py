"""Drawing samples from a trained model: the ``sample`` section and the one ``draw_samples``.

The ``sample`` stage and the tune scorer both draw through :func:`draw_samples`, so a search
scores exactly what the pipeline would write.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field
from tqdm import tqdm

from genmodels.configbase import StrictModel

if TYPE_CHECKING:
    from genmodels.models.core.base import GenerativeModel


class SampleConfig(StrictModel):
    n: int = Field(2000, ge=10)  # samples written to samples/<model>.parquet
    batch_size: int = Field(500, ge=1)
    temperature: float = Field(1.0, gt=0.0)  # latent/prior scale at sampling time
    grid: int = Field(100, ge=1)  # samples shown in samples/<model>.png


def draw_samples(model: GenerativeModel, n: int, seed: int, batch_size: int = 500, temperature: float = 1.0) -> np.ndarray:
    """``n`` samples as float32 ``(n, *shape)``, drawn in batches from one seeded generator.

    Images are clipped to [0, 1], the samples-file contract; points are left as drawn.
    """
    import torch  # here, not at the top: genmodels.config reads SampleConfig without torch

    gen = torch.Generator(device=model.device).manual_seed(seed)
    starts = range(0, n, batch_size)
    bar = tqdm(starts, desc="sampling", unit="batch", leave=False, disable=len(starts) < 2 or not sys.stderr.isatty())  # quiet off a terminal
    with torch.no_grad():
        parts = [model.sample(min(batch_size, n - s), gen, temperature).float().cpu() for s in bar]
        x = torch.cat(parts).numpy()
    if model.info.kind == "image":
        x = np.clip(x, 0.0, 1.0)
    return x


def draw(model: GenerativeModel, cfg: SampleConfig, seed: int) -> np.ndarray:
    """The pipeline's samples of ``model`` under root seed ``seed``: ``cfg.n`` draws from generator
    seed ``seed + 1`` (``sample@<m>`` writes them; ``evaluate@<m>`` draws each extra seed's so)."""
    return draw_samples(model, cfg.n, seed + 1, cfg.batch_size, cfg.temperature)
