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
from genmodels.errors import ConfigError, DataError
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
    """The checkpoint's ``config.json``: a mapping with ``family``, ``config`` and ``data_info``."""
    cfg_file = Path(path) / CONFIG_FILE
    if not cfg_file.is_file():
        raise DataError(f"checkpoint config not found: {cfg_file} (train the model first)")
    try:
        meta = json.loads(cfg_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"checkpoint config {cfg_file} is not valid JSON: {exc}") from None
    missing = [k for k in ("family", "config", "data_info") if not isinstance(meta, dict) or k not in meta]
    if missing:
        raise DataError(f"checkpoint config {cfg_file} lacks {', '.join(map(repr, missing))}; it was not written by genmodels (train the model again)")
    return meta


def _first_line(exc: BaseException) -> str:
    """The first sentence of an exception's message (torch's are long and multi-line)."""
    lines = str(exc).strip().splitlines()
    text = lines[0].strip() if lines else ""
    return text.split(". ")[0].rstrip(".") if text else f"{type(exc).__name__} (empty or unreadable file)"


def guess_family(state: dict[str, Any], info: DatasetInfo) -> str | None:
    """The registered family whose default model's top-level state-dict names best match ``state``'s.

    Only for error messages: a checkpoint stores no family in its weights, but each family's
    top-level modules and buffers (``encoder``, ``generator``, ``log_probs`` ...) tell them apart.
    """
    from genmodels.models.core.registry import MODELS, model_class

    found = {k.split(".")[0] for k in state}
    best, best_score = None, 0.5  # require more than half of the names to agree
    for family in MODELS.names():
        try:
            cls = model_class(family)
            names = {k.split(".")[0] for k in cls(cls.config_cls(), info).state_dict()}
        except Exception:  # a family that cannot be built for this data is not the answer
            continue
        score = len(found & names) / len(found | names) if found | names else 0.0
        if score > best_score:
            best, best_score = family, score
    return best


def _check_weights(weights: Path, state: Any, model: GenerativeModel, family: str) -> None:
    """One clear DataError when ``state`` is not a state dict of ``model`` (another family, other sizes)."""
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DataError(f"checkpoint weights {weights} are not a state dict of tensors (train {family} again)")
    expected = model.state_dict()
    if set(state) != set(expected):
        other = guess_family(state, model.info)
        holds = f"a {other!r} model" if other and other != family else "weights of another model"
        raise DataError(f"checkpoint weights {weights} hold {holds}, but its config.json expects family {family!r} (copy the whole model folder, or train {family} again)")
    resizable = {f"{prefix}.{name}".lstrip(".") for prefix, module in model.named_modules() for name in getattr(module, "resizable_buffers", ())}
    for key, value in expected.items():
        if key not in resizable and state[key].shape != value.shape:  # a resizable buffer takes its shape from the data
            raise DataError(f"checkpoint weights {weights}: {key} has shape {list(state[key].shape)}, but the config in config.json needs {list(value.shape)} (the weights come from a different configuration; train again)")


def load_model(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> GenerativeModel:
    """Rebuild a model from a checkpoint folder written by :func:`write_model`.

    Any problem with the folder (missing or corrupt files, weights of another family or
    configuration) raises :class:`DataError` naming the file.
    """
    path = Path(path)
    meta = read_config(path)
    family = meta["family"]
    try:
        info = DatasetInfo.from_json(meta["data_info"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"checkpoint config {path / CONFIG_FILE}: bad data_info ({_first_line(exc)})") from None
    try:
        model = build_model(family, meta["config"], info)
    except KeyError as exc:  # unknown family: the registry's message lists the known ones
        raise DataError(f"checkpoint config {path / CONFIG_FILE}: {exc.args[0]}") from None
    except ConfigError as exc:
        raise DataError(f"checkpoint config {path / CONFIG_FILE}: {exc}") from None
    weights = path / MODEL_FILE
    if not weights.is_file():
        raise DataError(f"checkpoint weights not found: {weights}")
    if weights.stat().st_size == 0:
        raise DataError(f"checkpoint weights {weights} are an empty file (train again)")
    try:
        state = torch.load(weights, map_location=map_location, weights_only=True)
    except Exception as exc:  # truncation, garbage, pickled objects: many exception types
        raise DataError(f"cannot load checkpoint weights {weights}: {_first_line(exc)} (the file is corrupt or truncated; train again)") from None
    _check_weights(weights, state, model, family)
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
