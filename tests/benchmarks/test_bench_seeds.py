"""bench_seeds' params: the seeds list (the first fixes the split), and a subset of the models."""

from __future__ import annotations

import pytest

from tests.benchmarks.loader import bench_module


@pytest.fixture(scope="module")
def bench():
    with bench_module("bench_seeds") as module:
        yield module


PARAMS = {"seed": 0, "data": {"name": "digits"}, "models": {"flow": "flow", "gmm": "gmm", "vae": "vae"},
          "flow": {"fit": {"epochs": 3}}, "vae": {"fit": {"epochs": 2}}, "sample": {"n": 10}}  # fmt: skip


def test_the_subset_keeps_its_sections_and_drops_the_others(bench) -> None:
    out = bench.seeded_params(PARAMS, [0, 1, 2], ["flow", "gmm"])
    assert out["seeds"] == [0, 1, 2] and out["models"] == {"flow": "flow", "gmm": "gmm"}
    assert out["flow"] == PARAMS["flow"] and "vae" not in out and out["sample"] == {"n": 10}
    assert PARAMS["models"] == {"flow": "flow", "gmm": "gmm", "vae": "vae"}  # the input is left alone
    assert bench.seeded_params(PARAMS, [0, 5], None)["models"] == PARAMS["models"]


def test_a_first_seed_other_than_the_params_seed_or_an_unknown_model_stops(bench) -> None:
    with pytest.raises(SystemExit, match="first seed"):
        bench.seeded_params(PARAMS, [1, 2], None)
    with pytest.raises(SystemExit, match=r"no model\(s\) \['rbm'\]"):
        bench.seeded_params(PARAMS, [0, 1], ["rbm"])
