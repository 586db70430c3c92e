"""Atomic writes (genmodels.atomic): the file appears whole under its final name or not at all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genmodels.atomic import write_npz


def test_write_npz_round_trips_under_the_final_name_only(tmp_path: Path) -> None:
    path = tmp_path / "row.npz"
    arrays = {"fid_resamples": np.array([1.5, 2.5]), "kid_resamples": np.arange(3, dtype=np.float32)}
    write_npz(path, arrays)
    with np.load(path) as z:
        assert sorted(z.files) == sorted(arrays)
        for k, v in arrays.items():
            np.testing.assert_array_equal(z[k], v)
            assert z[k].dtype == v.dtype
    assert [p.name for p in tmp_path.iterdir()] == ["row.npz"]


def test_write_npz_without_arrays_is_an_empty_archive(tmp_path: Path) -> None:
    write_npz(tmp_path / "none.npz", {})
    with np.load(tmp_path / "none.npz") as z:
        assert z.files == []


def test_a_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "row.npz"
    write_npz(path, {"a": np.ones(2)})
    with pytest.raises(TypeError):
        write_npz(path, {"a": np.ones(2), 3: np.zeros(1)})  # type: ignore[dict-item]  (a key savez cannot name)
    with np.load(path) as z:
        np.testing.assert_array_equal(z["a"], np.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["row.npz"]
