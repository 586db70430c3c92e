"""Property tests of the samples-file reader: any Parquet file (random shapes, dtypes, NaNs,
nulls, labels, shape metadata) either loads as a valid :class:`Samples` or raises
:class:`DataError` naming the file, never another exception; and what ``write_samples``
writes from valid samples reads back exactly."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from genmodels.data.samples import Samples, read_samples, write_samples
from genmodels.errors import DataError

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
VALUE_TYPES = [pa.float32(), pa.float64(), pa.float16(), pa.int8(), pa.int64(), pa.uint8(), pa.bool_(), pa.string()]
shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)
finite01 = st.floats(0.0, 1.0, width=32)
anything = st.one_of(st.floats(width=32), st.floats(-1e6, 1e6), finite01)


@st.composite
def x_columns(draw: st.DrawFn) -> tuple[pa.Array, int, int]:
    """An ``x`` column: usually fixed-size lists of some value type (NaNs, infinities, nulls
    inside or as whole rows), sometimes a variable-size list or plain floats. Returns it, rows, row length."""
    n, dim = draw(st.integers(0, 5)), draw(st.integers(1, 8))
    values = draw(st.lists(st.one_of(anything, st.none()) if draw(st.booleans()) else anything, min_size=n * dim, max_size=n * dim))
    kind = draw(st.sampled_from(["fixed"] * 6 + ["variable", "plain"]))
    if kind == "plain":
        return pa.array(values[:n] + [0.0] * (n - len(values[:n])), pa.float64()), n, 1
    vtype = draw(st.sampled_from(VALUE_TYPES))
    try:
        flat = pa.array(values, pa.float64()).cast(vtype, safe=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        flat = pa.array([str(v) for v in values], pa.string())
    if kind == "variable":
        return pa.ListArray.from_arrays(pa.array(list(range(0, n * dim + 1, dim)), pa.int32()), flat), n, dim
    column = pa.FixedSizeListArray.from_arrays(flat, dim)
    if n and draw(st.integers(0, 7)) == 0:  # a null row (pyarrow writes it, but cannot read it back)
        mask = pa.array([k == 0 for k in range(n)])
        column = pa.FixedSizeListArray.from_arrays(flat, dim, mask=mask)
    return column, n, dim


@st.composite
def shape_metadata(draw: st.DrawFn, dim: int) -> bytes | None:
    """Absent, right, wrong, or not JSON at all."""
    choice = draw(st.sampled_from(["none", "flat", "factor", "random", "json", "bytes"]))
    if choice == "none":
        return None
    if choice == "flat":
        return json.dumps([dim]).encode()
    if choice == "factor":  # e.g. [1, 2, 4] for 8: right only when the product matches
        return json.dumps([1, *draw(st.lists(st.integers(1, 8), min_size=1, max_size=2))]).encode()
    if choice == "random":
        return json.dumps(draw(st.lists(st.one_of(st.integers(-3, 10), st.floats(-2, 5), st.booleans(), st.none()), max_size=3))).encode()
    if choice == "json":
        return json.dumps(draw(st.one_of(st.integers(), st.text(max_size=5), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)))).encode()
    return draw(st.binary(max_size=8))


@st.composite
def label_columns(draw: st.DrawFn, n: int) -> pa.Array | None:
    kind = draw(st.sampled_from(["none", "int", "float", "string", "nulls"]))
    if kind == "none":
        return None
    ints = draw(st.lists(st.integers(-5, 20), min_size=n, max_size=n))
    if kind == "int":
        return pa.array(ints, pa.int64())
    if kind == "float":
        return pa.array([k + 0.5 for k in ints], pa.float64())
    if kind == "string":
        return pa.array([str(k) for k in ints], pa.string())
    return pa.array([None if k % 2 else k for k in ints], pa.int32())


def check_loaded(samples: Samples, path: Path) -> None:
    """What a successful read promises."""
    assert samples.x.dtype == np.float32 and len(samples) > 0 and np.isfinite(samples.x).all()
    if len(samples.shape) > 1:
        assert samples.x.min() >= 0.0 and samples.x.max() <= 1.0
    assert samples.y is None or (samples.y.dtype == np.int64 and samples.y.shape == (len(samples),))


@FUZZ
@given(data=st.data())
def test_any_parquet_file_loads_or_raises_data_error(tmp_path: Path, data: st.DataObject) -> None:
    x, n, dim = data.draw(x_columns())
    columns: dict[str, Any] = {"x": x}
    y = data.draw(label_columns(n))
    if y is not None:
        columns["y"] = y
    table = pa.table(columns)
    meta = data.draw(shape_metadata(dim))
    if meta is not None:
        table = table.replace_schema_metadata({b"shape": meta})
    path = tmp_path / "s.parquet"
    pq.write_table(table, path)
    try:
        samples = read_samples(path)
    except DataError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc), str(exc)
        event("DataError: " + str(exc).replace(str(path), "<path>")[:40])
        return
    event("loaded")
    check_loaded(samples, path)
    assert math.prod(samples.shape) == dim


@FUZZ
@given(data=st.data(), damage=st.sampled_from(["truncate", "flip", "append"]))
def test_damaged_file_loads_or_raises_data_error(tmp_path: Path, data: st.DataObject, damage: str) -> None:
    path = tmp_path / "s.parquet"
    write_samples(path, Samples(np.zeros((6, 1, 2, 2), np.float32), np.arange(6)))
    raw = bytearray(path.read_bytes())
    at = data.draw(st.integers(0, len(raw) - 1))
    if damage == "truncate":
        raw = raw[:at]
    elif damage == "flip":
        raw[at] ^= data.draw(st.integers(1, 255))
    else:
        raw += data.draw(st.binary(min_size=1, max_size=16))
    path.write_bytes(bytes(raw))
    try:
        check_loaded(read_samples(path), path)
    except DataError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc), str(exc)


@FUZZ
@given(
    x=shapes.flatmap(lambda s: hnp.arrays(np.float32, (3, *s), elements=finite01)),
    dtype=st.sampled_from([np.float32, np.float64, np.float16]),
    labelled=st.booleans(),
)
def test_valid_samples_round_trip(tmp_path: Path, x: np.ndarray, dtype: type, labelled: bool) -> None:
    x = x.astype(dtype)
    y = np.arange(len(x)) if labelled else None
    path = tmp_path / "s.parquet"
    write_samples(path, Samples(x, y))
    back = read_samples(path)
    np.testing.assert_array_equal(back.x, x.astype(np.float32))
    assert back.shape == x.shape[1:] and (back.y is None) == (y is None)
