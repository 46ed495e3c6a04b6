"""Fixtures shared by the breaker and retry tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dbsbm_resilience.retry import set_testing
from tests.resilience.helpers import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def testing() -> Iterator[None]:
    with set_testing(True, attempts=10):
        yield
