"""The samples file: the one exchange format between every stage and outside tools.

Parquet, one row per sample. Column ``x``: the flattened sample as
``fixed_size_list<float32>`` (images C x H x W row-major, values in [0, 1]); optional
int64 column ``y``; schema metadata key ``shape`` holds the per-sample shape as JSON.
A shape of more than one axis is an image, so its values must lie in [0, 1].
"""

from __future__ import annotations

import json
import math
import os
import re
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


def _arrow_array(values: np.ndarray) -> pa.Array:
    """A 1-D numpy array of numbers as an Arrow array of its dtype, no nulls (NaN stays a value):
    what ``pa.array(values)`` makes, without the pandas import (0.3-0.5 CPU s) that ``pa.array``
    does on first use (reading a file imports pandas anyway; writing one, as ``prepare`` does, need not)."""
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values), [None, pa.py_buffer(values)])


def write_samples(path: str | os.PathLike, samples: Samples) -> None:
    """Write atomically: a crash never leaves a half-written file at ``path``."""
    x = np.ascontiguousarray(samples.x, dtype=np.float32)
    dim = int(np.prod(samples.shape))
    values = _arrow_array(x.reshape(-1))
    columns = {"x": pa.FixedSizeListArray.from_arrays(values, dim)}
    if samples.y is not None:
        columns["y"] = _arrow_array(np.asarray(samples.y, dtype=np.int64))
    table = pa.table(columns)
    table = table.replace_schema_metadata({SHAPE_KEY: json.dumps(list(samples.shape)).encode()})
    write_file(path, lambda tmp: pq.write_table(table, tmp))


def _arrow_reason(exc: BaseException) -> str:
    """The gist of a pyarrow error: its first sentence, without the file name pyarrow repeats."""
    lines = str(exc).strip().splitlines()
    text = re.sub(r"^Could not open Parquet input source '.*?': ", "", lines[0] if lines else "")
    return text.split(". ")[0].rstrip(".") or type(exc).__name__


def _shape_from_metadata(path: Path, meta: dict[bytes, bytes], dim: int) -> tuple[int, ...]:
    """The per-sample shape from the schema metadata (``(dim,)`` when absent), checked against the row length."""
    if SHAPE_KEY not in meta:
        return (dim,)
    try:
        raw = json.loads(meta[SHAPE_KEY])
    except (ValueError, UnicodeDecodeError):
        raw = None
    if not isinstance(raw, list) or not raw or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in raw):
        raise DataError(f"samples file {path}: schema metadata 'shape' is not a JSON list of positive integers such as [1, 8, 8] (got {meta[SHAPE_KEY][:60]!r})")
    shape = tuple(raw)
    if math.prod(shape) != dim:
        raise DataError(f"samples file {path}: shape {list(shape)} does not match row length {dim}")
    return shape


def _values(flat: pa.Array) -> np.ndarray:
    """A numeric arrow array without nulls as numpy, read from its data buffer (pyarrow's
    ``to_numpy`` imports pandas, a second of every stage's start)."""
    t = flat.type
    kind = "f" if pa.types.is_floating(t) else "i" if pa.types.is_signed_integer(t) else "u"
    dtype = np.dtype(f"{kind}{t.bit_width // 8}")
    if len(flat) == 0:
        return np.empty(0, dtype)
    return np.frombuffer(flat.buffers()[1], dtype=dtype, count=len(flat), offset=flat.offset * dtype.itemsize)


def _labels(path: Path, table: pa.Table) -> np.ndarray | None:
    """Column ``y`` as int64 (None when absent); integers without nulls only."""
    if "y" not in table.column_names:
        return None
    col = table.column("y")
    if not pa.types.is_integer(col.type) or col.null_count:
        what = f"{col.null_count} null label(s)" if pa.types.is_integer(col.type) else f"type {col.type}"
        raise DataError(f"samples file {path}: column 'y' must hold int64 class labels, found {what}")
    return _values(col.combine_chunks()).astype(np.int64)


def read_samples(path: str | os.PathLike) -> Samples:
    """Read a samples file; any problem raises :class:`DataError` naming the file.

    Checked: the file is Parquet with a ``fixed_size_list`` column ``x`` of numbers (no
    nulls, NaNs or infinities, at least one row) matching the ``shape`` metadata, an
    integer ``y`` if present, and image values (a shape of more than one axis) in [0, 1].
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"samples file not found: {path}")
    try:
        table = pq.ParquetFile(path).read()  # one file: read_table would import pyarrow.dataset (and pandas)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise DataError(f"cannot read samples file {path}: {_arrow_reason(exc)} (not a Parquet samples file, or truncated)") from None
    try:
        table.column_names  # noqa: B018 - decodes the schema's names: a damaged footer can hold bytes that are not UTF-8
    except UnicodeDecodeError:
        raise DataError(f"cannot read samples file {path}: a column name is not UTF-8 (a damaged file)") from None
    if "x" not in table.column_names:
        raise DataError(f"samples file {path} has no column 'x' (columns: {', '.join(table.column_names) or 'none'})")
    col = table.column("x").combine_chunks()
    if not pa.types.is_fixed_size_list(col.type) or not (pa.types.is_floating(col.type.value_type) or pa.types.is_integer(col.type.value_type)):
        raise DataError(f"samples file {path}: column 'x' must be fixed_size_list<float32>, got {col.type}")
    if len(col) == 0:
        raise DataError(f"samples file {path} holds no samples (0 rows)")
    if col.null_count:
        raise DataError(f"samples file {path}: column 'x' has {col.null_count} null row(s)")
    dim = col.type.list_size
    shape = _shape_from_metadata(path, table.schema.metadata or {}, dim)
    flat = col.flatten()
    if flat.null_count:  # no null rows here; nulls inside a row read as NaN
        flat = flat.cast(pa.float64(), safe=False).fill_null(math.nan)
    x = _values(flat).astype(np.float32).reshape((len(col), *shape))
    if not np.isfinite(x).all():
        raise DataError(f"samples file {path}: column 'x' holds NaN, null or infinite values")
    if len(shape) > 1 and (x.min() < 0.0 or x.max() > 1.0):
        raise DataError(f"samples file {path}: image values must lie in [0, 1], found {float(x.min()):.4g} to {float(x.max()):.4g} (clip or rescale them)")
    return Samples(x=x, y=_labels(path, table))
