"""Fixtures of the pipeline tests: one prepared tiny project shared by the tune tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tune_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with prepared digits (400 rows) and a small evaluator, ready for ``genmodels tune``."""
    from tests.pipelines.tune_helpers import prepare

    root = tmp_path_factory.mktemp("tune")
    prepare(root)
    return root
