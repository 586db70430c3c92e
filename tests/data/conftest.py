"""Shared fixtures for the dataset tests (helpers are fixtures, so no test imports conftest)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from genmodels.data.base import PreparedData
from genmodels.data.config import DataConfig


@pytest.fixture
def make_cfg() -> Callable[..., DataConfig]:
    """Build a validated DataConfig; nested sections are given as dicts."""

    def build(**fields: Any) -> DataConfig:
        return DataConfig.model_validate(fields)

    return build


@pytest.fixture
def assert_same() -> Callable[[PreparedData, PreparedData], None]:
    """Check that two loads are identical, split by split."""

    def check(a: PreparedData, b: PreparedData) -> None:
        for sa, sb in ((a.train, b.train), (a.test, b.test)):
            np.testing.assert_array_equal(sa.x, sb.x)
            if sa.y is None:
                assert sb.y is None
            else:
                np.testing.assert_array_equal(sa.y, sb.y)
        assert a.info == b.info

    return check


@pytest.fixture
def assert_names() -> Callable[[pytest.ExceptionInfo, str], None]:
    """Check that an error message is one line and names ``name`` (usually a file)."""

    def check(excinfo: pytest.ExceptionInfo, name: str) -> None:
        message = str(excinfo.value)
        assert name in message, message
        assert "\n" not in message, message

    return check
