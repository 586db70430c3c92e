"""State-dict checkpoints: a folder with ``model.pt`` (tensors only) and ``config.json``.

Everything loads with ``torch.load(weights_only=True)``; nothing pickles a module.
Trainer state (optimizers, epoch, history) goes to ``trainer.pt`` beside them for resume,
and the weights of the best validated epoch so far (``fit.select: best_val``) to ``best.pt``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from genmodels.data.base import DatasetInfo
from genmodels.errors import DataError
from genmodels.models.core.base import GenerativeModel
from genmodels.models.core.registry import build_model

MODEL_FILE, CONFIG_FILE, TRAINER_FILE, BEST_FILE = "model.pt", "config.json", "trainer.pt", "best.pt"


def write_model(path: Path, model: GenerativeModel, family: str, extra: dict[str, Any] | None = None) -> None:
    """Write ``model.pt`` + ``config.json`` into ``path`` (created)."""
    path.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, path / MODEL_FILE)
    meta = {
        "family": family,
        "config": model.config.model_dump(mode="json"),
        "data_info": model.info.to_json(),
        **(extra or {}),
    }
    (path / CONFIG_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def read_config(path: Path) -> dict[str, Any]:
    cfg_file = Path(path) / CONFIG_FILE
    if not cfg_file.is_file():
        raise DataError(f"checkpoint config not found: {cfg_file}")
    try:
        return json.loads(cfg_file.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"checkpoint config {cfg_file} is not valid JSON: {exc}") from None


def load_model(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> GenerativeModel:
    """Rebuild a model from a checkpoint folder written by :func:`write_model`."""
    path = Path(path)
    meta = read_config(path)
    model = build_model(meta["family"], meta["config"], DatasetInfo.from_json(meta["data_info"]))
    weights = path / MODEL_FILE
    if not weights.is_file():
        raise DataError(f"checkpoint weights not found: {weights}")
    try:
        state = torch.load(weights, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise DataError(f"cannot load checkpoint weights {weights}: {exc}") from None
    model.load_state_dict(state)
    return model.to(map_location).eval()


def write_trainer_state(path: Path, optimizers: dict[str, torch.optim.Optimizer], schedulers: dict[str, Any], epoch: int, history: list[dict[str, float]]) -> None:
    state = {
        "epoch": epoch,
        "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
        "schedulers": {k: s.state_dict() for k, s in schedulers.items()},
        "history": json.dumps(history),
    }
    torch.save(state, path / TRAINER_FILE)


def read_trainer_state(path: Path) -> dict[str, Any]:
    state = torch.load(path / TRAINER_FILE, map_location="cpu", weights_only=True)
    state["history"] = json.loads(state["history"])
    return state


def write_best(path: Path, state: dict[str, torch.Tensor]) -> None:
    """Write the best validated epoch's weights (a state dict) to ``best.pt``."""
    torch.save({k: v.detach().cpu() for k, v in state.items()}, path / BEST_FILE)


def read_best(path: Path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor] | None:
    """The state dict in ``best.pt``, or None when the run had not validated yet."""
    best = path / BEST_FILE
    return torch.load(best, map_location=device, weights_only=True) if best.is_file() else None
