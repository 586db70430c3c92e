"""The samples file: round trip, schema contract and corrupt-file errors."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from genmodels.data.samples import Samples, read_samples, write_samples
from genmodels.errors import DataError


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 4, 5), (2,)])
@pytest.mark.parametrize("labelled", [True, False])
def test_round_trip(tmp_path, shape, labelled):
    rng = np.random.default_rng(0)
    x = rng.random((7, *shape), dtype=np.float32)
    y = rng.integers(0, 10, 7) if labelled else None
    path = tmp_path / "sub" / "s.parquet"
    write_samples(path, Samples(x=x, y=y))
    back = read_samples(path)
    assert back.shape == shape and back.x.dtype == np.float32
    np.testing.assert_array_equal(back.x, x)
    if labelled:
        assert back.y.dtype == np.int64
        np.testing.assert_array_equal(back.y, y)
    else:
        assert back.y is None
    assert [p.name for p in path.parent.iterdir()] == ["s.parquet"]  # no temp files left


def test_schema_contract(tmp_path):
    path = tmp_path / "s.parquet"
    write_samples(path, Samples(x=np.zeros((3, 1, 2, 2), dtype=np.float64), y=np.array([1, 2, 3], dtype=np.int32)))
    schema = pq.read_schema(path)
    assert schema.field("x").type == pa.list_(pa.float32(), 4)
    assert schema.field("y").type == pa.int64()
    assert json.loads(schema.metadata[b"shape"]) == [1, 2, 2]


def test_file_from_another_tool_without_shape_metadata(tmp_path):
    path = tmp_path / "ext.parquet"
    flat = pa.array(np.arange(6, dtype=np.float32))
    pq.write_table(pa.table({"x": pa.FixedSizeListArray.from_arrays(flat, 3)}), path)
    back = read_samples(path)
    assert back.shape == (3,) and back.y is None
    np.testing.assert_array_equal(back.x, [[0, 1, 2], [3, 4, 5]])


def _write_table(path, x_column, shape_meta):
    table = pa.table({"x": x_column}).replace_schema_metadata({b"shape": shape_meta})
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: p.write_bytes(b"PAR1 this is not parquet"), "cannot read"),
        (lambda p: _write_table(p, pa.FixedSizeListArray.from_arrays(pa.array([0.0] * 6, pa.float32()), 3), b"[2, 2]"),
         "does not match"),
        (lambda p: _write_table(p, pa.FixedSizeListArray.from_arrays(pa.array([0.0] * 6, pa.float32()), 3), b"{oops"),
         "not a JSON list"),
        (lambda p: _write_table(p, pa.array([[0.0, 1.0], [2.0]]), b"[2]"), "fixed_size_list"),
        (lambda p: _write_table(p, pa.FixedSizeListArray.from_arrays(pa.array([np.nan, 0.0], pa.float32()), 2), b"[2]"),
         "NaN"),
        (lambda p: pq.write_table(pa.table({"z": [1.0]}), p), "no column 'x'"),
    ],
)  # fmt: skip
def test_bad_file_raises_data_error_naming_it(tmp_path, assert_names, make, match):
    path = tmp_path / "bad.parquet"
    make(path)
    with pytest.raises(DataError, match=match) as excinfo:
        read_samples(path)
    assert_names(excinfo, str(path))


def test_truncated_file(tmp_path, assert_names):
    path = tmp_path / "t.parquet"
    write_samples(path, Samples(x=np.zeros((50, 4), dtype=np.float32)))
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(DataError) as excinfo:
        read_samples(path)
    assert_names(excinfo, str(path))


def test_missing_file(tmp_path, assert_names):
    with pytest.raises(DataError, match="not found") as excinfo:
        read_samples(tmp_path / "nope.parquet")
    assert_names(excinfo, "nope.parquet")


def test_samples_validation():
    with pytest.raises(ValueError, match="must be"):
        Samples(x=np.zeros(3))
    with pytest.raises(ValueError, match="rows"):
        Samples(x=np.zeros((3, 2)), y=np.zeros(2))
