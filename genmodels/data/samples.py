"""The samples file: the one exchange format between every stage and outside tools.

Parquet, one row per sample. Column ``x``: the flattened sample as
``fixed_size_list<float32>`` (images C x H x W row-major, values in [0, 1]); optional
int64 column ``y``; schema metadata key ``shape`` holds the per-sample shape as JSON.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from genmodels.atomic import write_file
from genmodels.errors import DataError

SHAPE_KEY = b"shape"


@dataclass(frozen=True)
class Samples:
    """Samples in memory: ``x`` has shape ``(n, *shape)``, ``y`` is int64 or None."""

    x: np.ndarray
    y: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.x.ndim < 2:
            raise ValueError(f"x must be (n, *shape), got array of shape {self.x.shape}")
        if self.y is not None and len(self.y) != len(self.x):
            raise ValueError(f"y has {len(self.y)} rows but x has {len(self.x)}")

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.x.shape[1:])

    def __len__(self) -> int:
        return len(self.x)


def write_samples(path: str | os.PathLike, samples: Samples) -> None:
    """Write atomically: a crash never leaves a half-written file at ``path``."""
    x = np.ascontiguousarray(samples.x, dtype=np.float32)
    dim = int(np.prod(samples.shape))
    values = pa.array(x.reshape(-1), type=pa.float32())
    columns = {"x": pa.FixedSizeListArray.from_arrays(values, dim)}
    if samples.y is not None:
        columns["y"] = pa.array(np.asarray(samples.y, dtype=np.int64))
    table = pa.table(columns)
    table = table.replace_schema_metadata({SHAPE_KEY: json.dumps(list(samples.shape)).encode()})
    write_file(path, lambda tmp: pq.write_table(table, tmp))


def read_samples(path: str | os.PathLike) -> Samples:
    """Read a samples file; any problem raises :class:`DataError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"samples file not found: {path}")
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise DataError(f"cannot read samples file {path}: {exc}") from None
    meta = table.schema.metadata or {}
    if "x" not in table.column_names:
        raise DataError(f"samples file {path} has no column 'x'")
    col = table.column("x").combine_chunks()
    if not pa.types.is_fixed_size_list(col.type):
        raise DataError(f"samples file {path}: column 'x' must be fixed_size_list<float32>, got {col.type}")
    dim = col.type.list_size
    try:
        shape = tuple(int(s) for s in json.loads(meta[SHAPE_KEY])) if SHAPE_KEY in meta else (dim,)
    except (ValueError, TypeError):
        raise DataError(f"samples file {path}: schema metadata 'shape' is not a JSON list") from None
    if int(np.prod(shape)) != dim:
        raise DataError(f"samples file {path}: shape {list(shape)} does not match row length {dim}")
    flat = col.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    x = flat.reshape((len(col), *shape))
    if not np.isfinite(x).all():
        raise DataError(f"samples file {path}: column 'x' holds NaN or infinite values")
    y = None
    if "y" in table.column_names:
        y = table.column("y").to_numpy().astype(np.int64)
    return Samples(x=x, y=y)
