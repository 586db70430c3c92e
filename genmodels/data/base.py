"""What a dataset loader returns: a train split, a test split and a description."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from genmodels.data.samples import Samples


@dataclass(frozen=True)
class DatasetInfo:
    """Facts about a dataset that models and metrics need.

    ``levels`` is the number of discrete values per dimension (17 for digits, 256 for
    8-bit images) or ``None`` for continuous data; it fixes the likelihood convention
    (see :mod:`genmodels.metrics.likelihood`). ``extra`` holds loader-specific facts such
    as the parameters of a toy mixture, JSON-serialisable.
    """

    name: str
    kind: Literal["image", "points"]
    shape: tuple[int, ...]
    levels: int | None
    num_classes: int | None
    value_range: tuple[float, float]
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PreparedData:
    train: Samples
    test: Samples
    info: DatasetInfo
