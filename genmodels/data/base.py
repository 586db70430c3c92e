"""What a dataset loader returns: a train split, a test split and a description."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from genmodels.data.samples import Samples


@dataclass(frozen=True)
class DatasetInfo:
    """Facts about a dataset that models and metrics need.

    ``levels`` is the number of discrete values per dimension (17 for digits, 256 for
    8-bit images) or ``None`` for continuous data; it fixes the likelihood convention
    (see :mod:`genmodels.models.core.dequantize`). ``extra`` holds loader-specific facts
    such as the parameters of a toy mixture, JSON-serialisable. :meth:`to_json` and
    :meth:`from_json` are the one JSON form (dataset card, checkpoints).
    """

    name: str
    kind: Literal["image", "points"]
    shape: tuple[int, ...]
    levels: int | None
    num_classes: int | None
    value_range: tuple[float, float]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "DatasetInfo":
        """Build from :meth:`to_json`'s mapping; other keys (e.g. a dataset card's sizes) are ignored."""
        fields = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in fields}
        kw["shape"], kw["value_range"] = tuple(kw["shape"]), tuple(kw["value_range"])
        return cls(**kw)


@dataclass(frozen=True)
class PreparedData:
    """The splits: ``train`` fits models, ``val`` serves every choice made while building one
    (tuning, early stopping, model selection), ``test`` only the final evaluation."""

    train: Samples
    test: Samples
    info: DatasetInfo
    val: Samples | None = None
