"""Shared fixtures: small prepared data and deterministic torch settings."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
# Commands run cold unless a test asks for the warm runner (tests/pipelines/test_warm.py, the dvc repro test).
os.environ.setdefault("GENMODELS_WARM", "0")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers on two cores: one thread each, in this process and the commands it starts
    # (OpenMP threads that spin-wait for a busy core slow a run many times over).
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
else:
    torch.set_num_threads(min(2, torch.get_num_threads()))

try:  # property tests: fresh examples on a developer's machine, a fixed sequence under CI
    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, print_blob=True)
    if os.environ.get("CI"):
        settings.load_profile("ci")
except ImportError:  # the dev extra is not installed
    pass


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def digits():
    from genmodels.data import load_dataset
    from genmodels.data.config import DataConfig

    return load_dataset(DataConfig(name="digits"), seed=0)
