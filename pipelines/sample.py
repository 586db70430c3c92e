"""Stage ``sample@<model>``: draw samples -> samples/<model>.parquet + a picture (.png).

No MLflow here: ``evaluate@<model>`` logs the picture with the metrics into the model's run
(one MLflow start-up fewer per model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genmodels.atomic import write_file
from genmodels.data import Samples, read_samples, write_samples
from genmodels.device import resolve_device
from genmodels.models.core.base import GenerativeModel
from genmodels.sampling import SampleConfig, draw_samples
from genmodels.training.checkpoint import load_model
from genmodels.viz import samples_picture
from pipelines import paths
from pipelines.common import log, params


def draw(model: GenerativeModel, cfg: SampleConfig, seed: int) -> np.ndarray:
    """The samples of ``model`` under root seed ``seed`` (evaluate@<m> draws each extra seed's so)."""
    return draw_samples(model, cfg.n, seed + 1, cfg.batch_size, cfg.temperature)


def run(root: Path, name: str, params_file: str | None = None) -> dict:
    p = params(root, params_file)
    model = load_model(root / paths.model_dir(name), resolve_device(p.scaling.use_gpu))
    cfg = p.sample
    x = draw(model, cfg, p.seed)
    real = read_samples(root / paths.TEST).x if model.info.kind != "image" else None
    write_samples(root / paths.samples_file(name), Samples(x=x))
    picture = samples_picture(x[: cfg.grid] if model.info.kind == "image" else x, model.info.kind, real)
    write_file(root / paths.samples_png(name), lambda tmp: picture.save(tmp, format="PNG"))
    log(f"sample {name}: {len(x)} samples -> {paths.samples_file(name)}")
    return {"n": len(x)}
