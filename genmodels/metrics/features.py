"""Feature extractors: the networks whose activations the sample metrics compare.

An extractor maps a batch ``(n, *shape)`` in data space to named activations. Every
extractor returns ``"features"`` (``(n, d)``, used by FID, KID and PRDC) and lists in
``feature_layers`` the layers it can return; ``"logits"`` (IS, class coverage) where it
classifies, and the layers in ``perceptual_layers`` feed the PPL distance. Extractors are
saved as a state dict plus a JSON config, never as a pickled module.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from genmodels.atomic import write_file
from genmodels.errors import DataError
from genmodels.metrics import defaults
from genmodels.registry import Registry

WEIGHTS_FILE, CONFIG_FILE = "extractor.pt", "extractor.json"


class FeatureExtractor(nn.Module):
    """Base class; subclasses are built from keyword arguments stored in ``self.kwargs``."""

    name: ClassVar[str]
    feature_layers: ClassVar[tuple[str, ...]] = ("features",)
    perceptual_layers: ClassVar[tuple[str, ...]] = ("features",)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        self.kwargs = kwargs

    def forward(self, x: Tensor) -> dict[str, Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    #: Largest batch :func:`extract` feeds at once (big networks keep many maps per image).
    max_batch_size: ClassVar[int] = 1000

    #: Data kinds ("image", "points") for which ``evaluator.extractor: auto`` picks this extractor.
    auto_for: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def build(cls, data: Any, cfg: Any, seed: int, device: torch.device) -> tuple["FeatureExtractor", dict[str, Any]]:
        """Make the extractor for prepared ``data`` (the ``evaluator`` stage); returns it and a card of facts.

        ``data`` is a :class:`~genmodels.data.base.PreparedData`, ``cfg`` the ``evaluator``
        section. Raise :class:`~genmodels.errors.ConfigError` when the data does not fit.
        """
        raise NotImplementedError(f"feature extractor {cls.name!r} cannot be built by the evaluator stage")

    @property
    def has_logits(self) -> bool:
        return "logits" in self.feature_layers

    def perceptual_activations(self, x: Tensor) -> list[Tensor]:
        """Activations of ``perceptual_layers`` for the PPL distance (override to skip rounding etc.)."""
        out = self(x)
        return [out[name] for name in self.perceptual_layers]


FEATURE_EXTRACTORS: Registry[type[FeatureExtractor]] = Registry("feature extractor", package="genmodels.metrics.extractors")


def register_feature_extractor(name: str) -> Callable[[type[FeatureExtractor]], type[FeatureExtractor]]:
    def add(cls: type[FeatureExtractor]) -> type[FeatureExtractor]:
        if not (isinstance(cls, type) and issubclass(cls, FeatureExtractor)):
            raise TypeError(f"feature extractor {name!r} must subclass FeatureExtractor")
        cls.name = name
        return FEATURE_EXTRACTORS.register(name)(cls)

    return add


def save_extractor(extractor: FeatureExtractor, path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().cpu() for k, v in extractor.state_dict().items()}, path / WEIGHTS_FILE)
    meta = {"name": extractor.name, "kwargs": extractor.kwargs}
    (path / CONFIG_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def load_extractor(path: str | Path, device: str | torch.device = "cpu") -> FeatureExtractor:
    path = Path(path)
    cfg_file, weights = path / CONFIG_FILE, path / WEIGHTS_FILE
    for f in (cfg_file, weights):
        if not f.is_file():
            raise DataError(f"evaluator file not found: {f} (run the 'evaluator' stage first)")
    meta = json.loads(cfg_file.read_text())
    extractor = FEATURE_EXTRACTORS.get(meta["name"])(**meta["kwargs"])
    extractor.load_state_dict(torch.load(weights, map_location=device, weights_only=True))
    return extractor.to(device).eval()


@torch.inference_mode()
def extract(
    extractor: FeatureExtractor,
    x: np.ndarray | Tensor,
    layers: Sequence[str] = ("features",),
    batch_size: int = defaults.BATCH_SIZE,
    device: str | torch.device | None = None,
    progress: bool | None = None,
) -> dict[str, np.ndarray]:
    """Run ``extractor`` over ``x`` in batches; returns float32 arrays per requested layer."""
    missing = [name for name in layers if name not in extractor.feature_layers]
    if missing:
        raise ValueError(f"extractor {extractor.name!r} has no layer(s) {missing} (has {list(extractor.feature_layers)})")
    device = torch.device(device) if device is not None else next(iter([*extractor.parameters(), *extractor.buffers()]), torch.empty(0)).device
    extractor.eval()
    if progress is None:
        progress = sys.stderr.isatty() and len(x) > 10 * batch_size
    out: dict[str, list[np.ndarray]] = {name: [] for name in layers}
    batch_size = max(1, min(batch_size, extractor.max_batch_size))
    starts = range(0, len(x), batch_size)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc=f"features[{extractor.name}]", unit="batch")
    for s in starts:
        xb = torch.tensor(x[s : s + batch_size], dtype=torch.float32, device=device)
        acts = extractor(xb)
        for name in layers:
            out[name].append(acts[name].float().flatten(1).cpu().numpy())
    return {name: np.concatenate(parts) for name, parts in out.items()}


def fingerprint(extractor: FeatureExtractor) -> str:
    """sha256 of the extractor's name, constructor arguments and weights."""
    h = hashlib.sha256(json.dumps({"name": extractor.name, "kwargs": extractor.kwargs}, sort_keys=True).encode())
    for key, value in sorted(extractor.state_dict().items()):
        h.update(key.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def extract_cached(
    extractor: FeatureExtractor,
    x: np.ndarray,
    layers: Sequence[str],
    cache_dir: Path | None,
    **kwargs: Any,
) -> dict[str, np.ndarray]:
    """:func:`extract`, memoised on disk by (extractor fingerprint, data sha256, layers)."""
    if cache_dir is None:
        return extract(extractor, x, layers, **kwargs)
    data = np.ascontiguousarray(x, dtype=np.float32)
    key = hashlib.sha256(f"{fingerprint(extractor)}|{data.shape}|{','.join(layers)}".encode() + data.tobytes()).hexdigest()
    path = Path(cache_dir) / f"{extractor.name}-{key[:32]}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            return {name: z[name] for name in layers}
    out = extract(extractor, data, layers, **kwargs)
    write_file(path, lambda tmp: np.savez(tmp, **out))
    return out
