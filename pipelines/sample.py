"""Stage ``sample@<model>``: draw samples -> samples/<model>.parquet + a picture (.png).

No MLflow here: ``evaluate@<model>`` logs the picture with the metrics into the model's run
(one MLflow start-up fewer per model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genmodels.atomic import staged_dir, write_file
from genmodels.data import Samples, read_samples, write_samples
from genmodels.device import resolve_device
from genmodels.models.core.base import GenerativeModel
from genmodels.pictures import interpolation, nearest_neighbours
from genmodels.sampling import draw
from genmodels.training.checkpoint import load_model
from genmodels.viz import interpolation_strip, neighbour_pairs, samples_picture
from pipelines import paths
from pipelines.common import log, params


def run(root: Path, name: str, params_file: str | None = None) -> dict:
    p = params(root, params_file)
    model = load_model(root / paths.model_dir(name), resolve_device(p.scaling.use_gpu))
    cfg = p.sample
    x = draw(model, cfg, p.seed)
    real = read_samples(root / paths.TEST).x if model.info.kind != "image" else None
    write_samples(root / paths.samples_file(name), Samples(x=x))
    picture = samples_picture(x[: cfg.grid] if model.info.kind == "image" else x, model.info.kind, real)
    write_file(root / paths.samples_png(name), lambda tmp: picture.save(tmp, format="PNG"))
    with staged_dir(root / paths.figures_dir(name)) as tmp:
        figures(root, name, model, x, p.seed, tmp)
    log(f"sample {name}: {len(x)} samples -> {paths.samples_file(name)}")
    return {"n": len(x)}


TIMING = ("epoch", "epoch_seconds", "train_seconds", "val_seconds")  # history fields that are no training curve


def primary_last(series: dict[str, float]) -> dict[str, float]:
    """The series with the one `dvc plots show` draws by default (the last field) last: the
    validation NLL where it was measured, else the first loss."""
    keys = list(series)
    primary = next((k for k in keys if k.startswith("val_")), keys[0] if keys else None)
    return {**{k: series[k] for k in keys if k != primary}, **({primary: series[primary]} if primary else {})}


def figures(root: Path, name: str, model: GenerativeModel, x: np.ndarray, seed: int, out: Path, k: int = 8) -> list[str]:
    """The report's pictures of ``model`` in ``out``: a latent interpolation strip (families with
    a latent), the first ``k`` samples beside their nearest training images (images only), and the
    per-epoch history for DVC plots. Returns the files written."""
    import json

    out.mkdir(parents=True, exist_ok=True)
    history = root / paths.model_dir(name) / paths.HISTORY_FILE
    if history.is_file():
        rows = json.loads(history.read_text())
        curves = [{"epoch": int(r["epoch"]), **primary_last({k_: v for k_, v in r.items() if k_ not in TIMING and isinstance(v, (int, float))})} for r in rows]
        (out / paths.CURVES_FILE).write_text(json.dumps(curves, indent=1))
    if model.info.kind == "image":
        strip = interpolation(model, seed=seed + 2)
        if strip is not None:
            interpolation_strip(strip, f"{name}: decodes along paths between two latent draws").save(out / paths.INTERPOLATION_PNG)
        train = read_samples(root / paths.TRAIN).x
        idx, dist = nearest_neighbours(x[:k], train)
        neighbour_pairs(x[:k], train[idx], dist).save(out / paths.NEIGHBOURS_PNG)
    return sorted(f.name for f in out.iterdir())

