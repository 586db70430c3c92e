"""Stage ``sample@<model>``: draw samples -> samples/<model>.parquet + a picture (.png).

No MLflow here: ``evaluate@<model>`` logs the picture with the metrics into the model's run
(one MLflow start-up fewer per model)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from genmodels.data import Samples, read_samples, write_samples
from genmodels.training.checkpoint import load_model
from genmodels.viz import samples_picture
from pipelines import paths
from pipelines.common import log, params


def draw(model, n: int, batch_size: int, seed: int, temperature: float) -> np.ndarray:  # noqa: ANN001
    gen = torch.Generator(device=model.device).manual_seed(seed)
    with torch.no_grad():
        parts = [model.sample(min(batch_size, n - s), gen, temperature).float().cpu() for s in range(0, n, batch_size)]
    x = torch.cat(parts).numpy()
    if model.info.kind == "image":
        x = np.clip(x, 0.0, 1.0)
    return x


def run(root: Path, name: str, params_file: str | None = None) -> dict:
    p = params(root, params_file)
    model = load_model(root / paths.model_dir(name))
    cfg = p.sample
    x = draw(model, cfg.n, cfg.batch_size, p.seed + 1, cfg.temperature)
    out, png = root / paths.samples_file(name), root / paths.samples_png(name)
    real = read_samples(root / paths.TEST).x if model.info.kind != "image" else None
    write_samples(out, Samples(x=x))
    tmp_png = png.with_name(f".{png.name}.tmp-{os.getpid()}.png")
    samples_picture(x[: cfg.grid] if model.info.kind == "image" else x, model.info.kind, real).save(tmp_png)
    os.replace(tmp_png, png)
    log(f"sample {name}: {len(x)} samples -> {paths.samples_file(name)}")
    return {"n": len(x)}
