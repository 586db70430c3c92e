"""What the restoration stages share: the test images they restore, the evaluator's classifier and
features, and the outputs of one row (results JSON, arrays, pictures)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genmodels.atomic import write_file, write_json, write_npz
from genmodels.data import read_samples
from genmodels.device import resolve_device
from genmodels.errors import DataError
from genmodels.metrics.features import extract, load_extractor
from genmodels.restoration.pictures import rows_picture
from genmodels.restoration.runner import RowResult, arrays, picture_rows, restore_subset
from genmodels.restoration.scores import Classifier, Features
from pipelines import paths
from pipelines.common import check_evaluator, load_info


@dataclass
class Inputs:
    """The restored test images (a seeded subset), their labels and indices, and the evaluator's scores."""

    clean: torch.Tensor
    labels: torch.Tensor | None
    index: np.ndarray
    classify: Classifier | None
    features: Features
    device: torch.device


def not_images(root: Path) -> str | None:
    """Why the prepared data cannot be restored (not images), or None."""
    info = load_info(root)
    return None if info.kind == "image" else f"restoration tasks are defined on images; {info.name} is {info.kind} data"


def load_inputs(root: Path, n_images: int, seed: int, use_gpu: bool) -> Inputs:
    info = load_info(root)
    if info.kind != "image":
        raise DataError(f"restoration needs image data; {info.name} is {info.kind} data")
    device = resolve_device(use_gpu)
    extractor = load_extractor(root / paths.EVALUATOR, device)
    check_evaluator(root / paths.EVALUATOR, info)
    test = read_samples(root / paths.TEST)
    index = restore_subset(len(test.x), n_images, seed)
    clean = torch.as_tensor(test.x[index], dtype=torch.float32)
    labels = torch.as_tensor(test.y[index]) if test.y is not None else None

    def features(x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(extract(extractor, x.detach().cpu().numpy(), ("features",), device=device)["features"])

    classify = None
    if "logits" in extractor.feature_layers:
        def classify(x: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(extract(extractor, x.detach().cpu().numpy(), ("logits",), device=device)["logits"]).argmax(1)

    return Inputs(clean, labels, index, classify, features, device)


def row_json(result: RowResult, n_images: int, started: float, **extra: object) -> dict:
    """The results file of one row (restorations/<row>.json): the keys, ``notes`` (reasons of the
    nulls), how each task was restored, seconds per task and in all, the images restored."""
    return {**result.metrics, "restore_seconds": time.perf_counter() - started, "restore_images": n_images, **extra,
            "tasks": {k: {**v, "seconds": result.seconds.get(k)} for k, v in result.methods.items()}, "notes": result.notes}  # fmt: skip


def write_row(root: Path, name: str, result: RowResult, inputs: Inputs | None, pictures: int, data: dict) -> list[Path]:
    """restorations/<row>.json (the results), restorations/<row>.npz and one picture per task under
    restorations/<row>/ (none without ``inputs``: data that are not images); returns the pictures' paths."""
    write_json(root / paths.restore_results_file(name), data)
    write_npz(root / paths.restorations_file(name), arrays(result, inputs.index if inputs is not None else np.zeros(0, dtype=np.int64)))
    folder = root / paths.restore_figures_dir(name)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    written = []
    if pictures > 0 and inputs is not None:
        for task, (obs, res) in result.restored.items():
            picture = rows_picture(picture_rows(obs, res, inputs.clean, pictures), f"{name}: {task}")
            target = folder / f"{task}.png"
            write_file(target, lambda tmp: picture.save(tmp, format="PNG"))
            written.append(target)
    return written
